#!/bin/sh
# The official image's healthcheck.sh for the flags the shipped compose file
# uses: --connect (the server answers) and --innodb_initialized (InnoDB is
# up). Root connects through the unix socket.
set -eu
for a in "$@"; do
  case $a in
  --connect) mariadb -uroot -e 'SELECT 1' >/dev/null ;;
  --innodb_initialized)
    mariadb -uroot -N -e "SELECT 1 FROM information_schema.ENGINES WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT')" | grep -q 1 ;;
  *) echo "healthcheck.sh: unsupported $a" >&2; exit 2 ;;
  esac
done
