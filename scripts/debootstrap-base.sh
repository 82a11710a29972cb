#!/usr/bin/env bash
# Makes a minimal Debian 12 (bookworm, minbase) root filesystem and prints the
# path of its tarball. Used for the Docker base image (no registry is reachable
# on the machines phpinit is tested on) and for the fresh-machine test.
#
#   scripts/debootstrap-base.sh            # -> /var/cache/phpinit/bookworm-minbase.tar
#
# The tarball is cached: a second call returns at once. Needs root and
# debootstrap (installed with apt-get when missing).
set -euo pipefail
cache=${PHPINIT_BASE_CACHE:-/var/cache/phpinit}
tarball=$cache/bookworm-minbase.tar
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "debootstrap-base: needs root" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
mkdir -p "$cache"
root=$(mktemp -d "$cache/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "debootstrap-base: debootstrap --variant=minbase bookworm (about a minute)" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
  { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
echo "$tarball"
