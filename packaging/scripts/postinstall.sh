#!/bin/sh
# Prepare the inbox and the state folder, then restart the service if it
# was running. (The .deb uses scripts/deb/postinst.sh.)
set -e
install -d -o ppsync -g ppsync -m 0750 /srv/ppsync/inbox
install -d -o ppsync -g ppsync -m 0700 /var/lib/ppsync
chown root:ppsync /etc/ppsync/config.toml 2>/dev/null || true
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  if systemctl is-active --quiet ppsync; then
    systemctl restart ppsync || true
  else
    echo "ppsync installed. Set PP_API_KEY in /etc/ppsync/env and parser_id in /etc/ppsync/config.toml, then:"
    echo "  sudo ppsync check -c /etc/ppsync/config.toml && sudo systemctl enable --now ppsync"
  fi
fi
exit 0
