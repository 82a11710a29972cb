#!/usr/bin/env bash
# Runs go test with -race when a C compiler is there (the race detector
# needs cgo), else without it and says so once; prints go test's usual lines
# and ends with one line counting passed, skipped and failed tests with the
# reasons for the skips. Exits with go test's status.
#
#   scripts/test.sh [go test flags] [packages]     (make test, make unit)
set -euo pipefail
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
go=${GO:-go}
cd "$repo"

race=-race
cc=$(CGO_ENABLED=1 "$go" env CC)
if ! command -v "${cc%% *}" >/dev/null 2>&1; then
    race=
    echo "test: no C compiler (\"$cc\"): running without -race (sudo make deps installs gcc)" >&2
fi
mkdir -p bin
"$go" build -o bin/testsummary ./scripts/testsummary
exec bin/testsummary "$go" test -json $race "$@"
