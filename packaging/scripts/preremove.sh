#!/bin/sh
# Stop the service before its binary goes away (not on upgrade).
set -e
case "$1" in
  upgrade|1) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl disable --now ppsync >/dev/null 2>&1 || true
fi
exit 0
