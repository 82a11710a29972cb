#!/usr/bin/env bash
# bench/run.sh: phpinit against supervisord, s6 and tini (with a start
# script), and a by-hand shell script, each as PID 1 of a fresh PID
# namespace, running the same nginx + php-fpm site.
# Writes bench/results/<time>/ (results.jsonl, results.md, logs/) and
# prints the markdown table. See bench/README.md. Needs root.
#
# Knobs (environment):
#   RUNS=10              starts per contender for the start-up median
#   ORPHANS=5000         orphans for the reaping bench
#   ORPHAN_RELEASE=5s    the orphans exit evenly over this long (0: at once)
#   ORPHAN_TIMEOUT=90s   give up on reaping this long after the last exit
#   RESTART_TIMEOUT=30s  give up on a new php-fpm master after this long
#   IDLE_WINDOW=30s      how long idle wakeups and CPU are counted
#   IDLE_INITS="phpinit supervisord s6 tini phpinit-noprobe"
#                        the contenders of the idle measurement
#                        (make bench-idle: phpinit alone)
#   ONLY="startup idle"  run only these of: startup idle orphans restart
#                        restart_traffic load gobench
#   PHPINIT=bin/phpinit  the binary under test (built when missing)
#   PORT=18080           first port tried for nginx (then phpinit's /healthz)
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
ORPHANS=${ORPHANS:-5000}
ORPHAN_RELEASE=${ORPHAN_RELEASE:-5s}
ORPHAN_TIMEOUT=${ORPHAN_TIMEOUT:-90s}
RESTART_TIMEOUT=${RESTART_TIMEOUT:-30s}
IDLE_WINDOW=${IDLE_WINDOW:-30s}
IDLE_INITS=${IDLE_INITS:-phpinit supervisord s6 tini phpinit-noprobe}
ONLY=${ONLY:-startup idle orphans restart restart_traffic load gobench}
PHPINIT=${PHPINIT:-bin/phpinit}
PORT=${PORT:-18080}

die() { echo "bench: $*" >&2; exit 1; }
wanted() { [[ " $ONLY " == *" $1 "* ]]; }

[ "$(id -u)" -eq 0 ] || die "needs root (PID namespaces, running the daemons as www-data)"
# The contenders come from Debian's packages; install the missing ones.
missing=()
command -v supervisord >/dev/null || missing+=(supervisor)
command -v tini >/dev/null || missing+=(tini)
command -v s6-svscan >/dev/null || missing+=(s6)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
    die "cannot install ${missing[*]}"
fi
for bin in nginx php-fpm8.2 supervisord supervisorctl tini s6-svscan s6-svc unshare nsenter setpriv go; do
  command -v "$bin" >/dev/null || die "$bin not found (apt-get install nginx php8.2-fpm supervisor tini s6 util-linux)"
done
id www-data >/dev/null 2>&1 || die "no www-data user"
[ -x "$PHPINIT" ] || make -s build

# Two free ports on 127.0.0.1: nginx, then phpinit's health listener.
free_port() {
  local p=$1
  while (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
port=$(free_port "$PORT")
http_port=$(free_port $((port + 1)))

stamp=$(date +%Y%m%d-%H%M%S)
out=bench/results/$stamp
mkdir -p "$out/logs"
ln -sfn "$stamp" bench/results/latest
work=$(mktemp -d /tmp/phpinit-bench.XXXXXX)
chmod 755 "$work" # mktemp makes it 0700; www-data reads the site under it
trap 'rm -rf "$work"' EXIT

go build -o "$work/stackbench" ./bench/cmd/stackbench
bench/site.sh "$work/site" "$port" "$http_port" "$(realpath "$PHPINIT")"

load() { cut -d' ' -f1-3 /proc/loadavg; }
# Share of the CPUs busy over 2 s (other work on the machine skews every
# number here; the load average counts blocked tasks too on some VMs).
busy() {
  local a b
  read -r -a a < <(grep '^cpu ' /proc/stat)
  sleep 2
  read -r -a b < <(grep '^cpu ' /proc/stat)
  local total=0 idle=$(((b[4] + b[5]) - (a[4] + a[5])))
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo "$((100 * (total - idle) / total))%"
}
{
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)"
  echo "- phpinit: $("$PHPINIT" version 2>&1 | head -1)"
  echo "- supervisord $(supervisord --version) on $(python3 --version 2>&1), s6 $(dpkg-query -W -f '${Version}' s6), $(tini --version)"
  echo "- $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(php-fpm8.2 -v | head -1 | cut -d' ' -f1-2) (php-fpm)"
  echo "- before the bench: CPUs $(busy) busy, load average $(load)"
} >"$out/env.md"

sb() {
  "$work/stackbench" -site "$work/site" -port "$port" -phpinit "$(realpath "$PHPINIT")" \
    -logs "$out/logs" -out "$out/results.jsonl" -runs "$RUNS" -orphans "$ORPHANS" \
    -release-window "$ORPHAN_RELEASE" -orphan-timeout "$ORPHAN_TIMEOUT" -restart-timeout "$RESTART_TIMEOUT" -window "$IDLE_WINDOW" "$@"
}

start=$SECONDS
# Each measurement runs every contender in turn (startup: round by round),
# so drift on the machine spreads over all of them.
wanted startup && sb startup phpinit supervisord s6 tini byhand
# shellcheck disable=SC2086 # a list of names
wanted idle && sb idle $IDLE_INITS
wanted restart && sb restart phpinit supervisord s6 tini
wanted restart_traffic && sb restart_traffic phpinit supervisord s6 tini
if wanted load; then
  sb load_kill9_fpm phpinit supervisord s6 tini
  sb load_restart_fpm phpinit supervisord s6
  sb load_restart_nginx phpinit supervisord s6
fi
wanted orphans && sb orphans phpinit supervisord
if wanted gobench; then
  # The loop's reaper in process (the test binary as subreaper); one op
  # spawns 5,000 processes untimed first, hence a single iteration.
  go test -run '^$' -bench Reap5000Orphans -benchtime 1x ./supervisor/ | tee "$out/gobench.txt" >&2
fi
echo "- after: load average $(load); the bench took $((SECONDS - start)) s" >>"$out/env.md"

{
  echo "### phpinit vs supervisord, s6 and tini as PID 1 (nginx + php-fpm)"
  echo
  cat "$out/env.md"
  echo
  [ -s "$out/results.jsonl" ] && "$work/stackbench" table "$out/results.jsonl"
  if [ -s "$out/gobench.txt" ]; then
    echo
    echo "In process (\`go test -bench Reap5000Orphans ./supervisor\`):"
    echo
    echo '```'
    grep '^Benchmark' "$out/gobench.txt"
    echo '```'
  fi
} >"$out/results.md"
echo >&2
cat "$out/results.md"
