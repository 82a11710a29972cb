#!/usr/bin/env bash
# Installs what phpinit's tests and demo run for real, on Debian 12 / Ubuntu:
# nginx and php-fpm, gcc (go test -race needs cgo), util-linux's unshare,
# setpriv and nsenter, procps and iproute2.
#
#   scripts/install-deps.sh          as root: install what is missing
#                                    as another user: say what is missing and
#                                    the one command that installs it
#
# As another user it exits 0 after printing the command: the tests that need
# the packages (or root) skip and say why. `make deps` runs this script, so
# the command is `sudo make deps` everywhere (this script, demo.sh, README).
set -euo pipefail

# The install command a user without root is given, everywhere.
readonly install_cmd="sudo make deps"

# nginx and php-fpm live in /usr/sbin, which a normal user's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

have() { command -v "$1" >/dev/null 2>&1; }

# php8.2-fpm on Debian 12; elsewhere (Ubuntu 24.04: 8.3) the distribution's
# default PHP, which demo.sh finds as php-fpmX.Y.
php_packages() {
  if apt-cache show php8.2-fpm >/dev/null 2>&1 || ! have apt-cache; then
    echo php8.2-fpm php8.2-cli
  else
    echo php-fpm php-cli
  fi
}

any_php_fpm() {
  have php-fpm8.2 && return 0
  compgen -c php-fpm | grep -qE '^php-fpm[0-9]+\.[0-9]+$'
}

need=()
have nginx || need+=(nginx)
if ! any_php_fpm; then
  read -ra php <<<"$(php_packages)"
  need+=("${php[@]}")
fi
have gcc || need+=(gcc libc6-dev)
for tool in unshare setpriv nsenter; do have "$tool" || need+=(util-linux); done
have ip || need+=(iproute2)
have pgrep || need+=(procps)
[ ${#need[@]} -eq 0 ] && exit 0
mapfile -t need < <(printf "%s\n" "${need[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<EOF
phpinit: missing packages: ${need[*]}
phpinit: install them (apt-get update + install) as root with:

    $install_cmd

phpinit: until then make demo cannot run, and the tests that need them skip (saying why).
EOF
  exit 0
fi

if ! have apt-get; then
  echo "phpinit: missing packages: ${need[*]}; no apt-get here, install them by hand" >&2
  exit 1
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
echo "phpinit: installing ${need[*]} (apt-get update && apt-get install)" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
