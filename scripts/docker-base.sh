#!/usr/bin/env bash
# Makes the base images docker/Dockerfile names, in the local Docker engine,
# when they are absent (no registry is reachable on the machines phpinit is
# tested on):
#   debian:bookworm-slim    a debootstrap minbase root (scripts/debootstrap-base.sh)
#   golang:1.26-bookworm    that base + this machine's Go (/usr/local/go) and
#                           CA bundle (module downloads inside a build go
#                           through a proxy whose CA is in it)
# Images already in the engine are kept: a second run returns at once.
#
#   scripts/docker-base.sh        # DOCKER=/usr/bin/docker by default
set -euo pipefail
cd "$(dirname "$0")/.."
docker=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1
goroot=${GOROOT_FOR_IMAGE:-$(go env GOROOT 2>/dev/null || echo /usr/local/go)}
go_tag=golang:1.26-bookworm

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }

if have debian:bookworm-slim; then
  echo "docker-base: debian:bookworm-slim present"
else
  tarball=$(scripts/debootstrap-base.sh)
  echo "docker-base: importing $tarball as debian:bookworm-slim"
  "$docker" import "$tarball" debian:bookworm-slim >/dev/null
fi

if have "$go_tag"; then
  echo "docker-base: $go_tag present"
  exit 0
fi
if [ ! -x "$goroot/bin/go" ]; then
  echo "docker-base: no Go at $goroot (set GOROOT_FOR_IMAGE)" >&2
  exit 1
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# A copy, not a symlink: the build context must hold the files. Only what
# `go build` needs (no test data, no pkg/tool for other platforms).
cp -a "$goroot" "$ctx/go"
rm -rf "$ctx/go/test" "$ctx/go/api" "$ctx/go/doc"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY go /usr/local/go
ENV PATH=/usr/local/go/bin:/go/bin:$PATH GOPATH=/go
WORKDIR /go
DOCKERFILE
echo "docker-base: building $go_tag from $("$goroot/bin/go" version)"
start=$(date +%s)
"$docker" build -q -t "$go_tag" "$ctx" >/dev/null
echo "docker-base: $go_tag built in $(($(date +%s) - start))s"
