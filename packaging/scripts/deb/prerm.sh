#!/bin/sh
# Stop the service before its binary goes away (not on upgrade: postinst
# restarts it).
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
  deb-systemd-invoke stop ppsync.service >/dev/null 2>&1 || true
fi
exit 0
