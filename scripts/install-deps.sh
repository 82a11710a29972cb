#!/usr/bin/env bash
# Installs what phpinit's tests and demo run for real: nginx and php-fpm
# (Debian 12 / Ubuntu packages), util-linux's unshare and procps.
set -euo pipefail

need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v php-fpm8.2 >/dev/null 2>&1 || need+=(php8.2-fpm php8.2-cli)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf "%s\n" "${need[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "phpinit: missing packages: ${need[*]}" >&2
  echo "phpinit: install them with: sudo apt-get install -y ${need[*]}" >&2
  echo "phpinit: tests that need them (and root) will skip." >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the packages' init scripts from starting nginx/php-fpm on the host:
# phpinit starts them itself.
policy=/usr/sbin/policy-rc.d
created_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f "$policy"' EXIT
echo "phpinit: installing ${need[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
