#!/usr/bin/env bash
# Makes sure a Docker engine answers, for the e2e tests: installs Debian's
# docker.io, docker-compose and debootstrap when missing (root), and starts
# dockerd when no daemon answers, waiting for it with a deadline.
#
#   scripts/docker-engine.sh      # PHPINIT_DOCKERD_WAIT=60 seconds by default
set -euo pipefail
docker=${DOCKER:-/usr/bin/docker}
wait_s=${PHPINIT_DOCKERD_WAIT:-60}
log=${PHPINIT_DOCKERD_LOG:-/var/log/phpinit-dockerd.log}

need=()
[ -x "$docker" ] || need+=(docker.io)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf "%s\n" "${need[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker-engine: missing ${need[*]}; as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "docker-engine: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # No init script may start dockerd: it is started below, as this CI wants.
  policy=/usr/sbin/policy-rc.d created=
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created=1; fi
  trap '[ -n "$created" ] && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if "$docker" info >/dev/null 2>&1; then
  echo "docker-engine: daemon answers ($("$docker" version --format '{{.Server.Version}}'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "docker-engine: no Docker daemon answers, and only root may start one" >&2
  exit 1
fi
echo "docker-engine: starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 </dev/null &
pid=$!
deadline=$(($(date +%s) + wait_s))
until "$docker" info >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
    echo "docker-engine: dockerd did not answer within ${wait_s}s; its log:" >&2
    tail -n 50 "$log" >&2
    exit 1
  fi
  sleep 1
done
echo "docker-engine: dockerd $pid answers"
