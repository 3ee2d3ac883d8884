#!/bin/sh
# The state (/var/lib/ppsync), the inbox and the config stay on remove:
# they hold the user's data. Purge forgets the unit's enablement only.
set -e
case "$1" in
  remove)
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper disable ppsync.service >/dev/null 2>&1 || true
    fi
    ;;
  purge)
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper purge ppsync.service >/dev/null 2>&1 || true
    fi
    ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
