#!/bin/sh
# Create the ppsync system account before files are unpacked (the config is group-owned by it).
set -e
if ! getent group ppsync >/dev/null 2>&1; then
  groupadd --system ppsync 2>/dev/null || addgroup --system ppsync
fi
if ! getent passwd ppsync >/dev/null 2>&1; then
  useradd --system --gid ppsync --home-dir /var/lib/ppsync --no-create-home --shell /usr/sbin/nologin \
    --comment "ppsync service" ppsync 2>/dev/null \
  || adduser --system --ingroup ppsync --home /var/lib/ppsync --no-create-home --shell /usr/sbin/nologin ppsync
fi
exit 0
