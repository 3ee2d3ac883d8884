#!/bin/sh
# Prepare the inbox and the state folder, then restart the service if it
# was running (an upgrade). The service is not enabled here: it needs the
# key and a parser first.
set -e
if [ "$1" = "configure" ]; then
  install -d -o ppsync -g ppsync -m 0750 /srv/ppsync/inbox
  install -d -o ppsync -g ppsync -m 0700 /var/lib/ppsync
  chown root:ppsync /etc/ppsync/config.toml
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    deb-systemd-invoke try-restart ppsync.service || true
  fi
  if [ -z "$2" ]; then
    echo "ppsync installed. Set PP_API_KEY in /etc/ppsync/env and parser_id in /etc/ppsync/config.toml, then:"
    echo "  sudo ppsync check -c /etc/ppsync/config.toml && sudo systemctl enable --now ppsync"
  fi
fi
exit 0
