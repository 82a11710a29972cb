#!/usr/bin/env bash
# demo.sh: run nginx + php-fpm under phpinit on this machine, no container.
#
#   make demo                  (or scripts/demo.sh)
#   scripts/demo.sh --prepare  write the demo tree, print how to run it, exit
#
# Needs Debian 12 or similar (nginx, php8.2-fpm; any php-fpmX.Y works). As
# root it installs missing packages (scripts/install-deps.sh) and runs both
# programs as www-data, showing phpinit's privilege drop; as another user it
# prints the one install command (sudo make deps) when they are missing, and
# runs them as that user. The configs are the shipped ones from configs/, with paths
# rewritten into the demo directory, so the demo exercises what the image
# ships.
#
# Environment:
#   PHPINIT_DEMO_DIR          demo tree (default /tmp/phpinit-demo-$UID: one per user)
#   PHPINIT_DEMO_PORT         site port on 127.0.0.1 (default 8080)
#   PHPINIT_DEMO_STATUS_PORT  nginx status port on 127.0.0.1 (default 8081)
#   PHPINIT_DEMO_HTTP         phpinit health/metrics listener (default 127.0.0.1:9180)
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
demo=${PHPINIT_DEMO_DIR:-/tmp/phpinit-demo-$(id -u)}
port=${PHPINIT_DEMO_PORT:-8080}
status_port=${PHPINIT_DEMO_STATUS_PORT:-8081}
http_listen=${PHPINIT_DEMO_HTTP:-127.0.0.1:9180}
run=$demo/run
prepare_only=false
[[ ${1:-} == --prepare ]] && prepare_only=true

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# The paths go into sed replacements and YAML unquoted-safe strings.
[[ $demo == /* && $demo != *[[:space:]\|\"\'\\]* ]] ||
    die "PHPINIT_DEMO_DIR must be an absolute path without spaces, quotes or '|': $demo"

# nginx and php-fpm live in /usr/sbin, which a normal user's PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

find_php_fpm() {
    if command -v php-fpm8.2 >/dev/null; then
        command -v php-fpm8.2
        return
    fi
    # Another release's php-fpmX.Y: take the newest.
    local newest
    newest=$(compgen -c php-fpm | grep -E '^php-fpm[0-9]+\.[0-9]+$' | sort -uV | tail -n 1)
    [[ -n $newest ]] && command -v "$newest"
}

# The same script as `make test`'s: as root it installs what is missing,
# else it prints the one command that does (sudo make deps).
install_packages() {
    "$repo/scripts/install-deps.sh"
    [[ $(id -u) -eq 0 ]] || exit 1
}

# port_free HOST PORT VARIABLE: dies at once, naming the variable to change,
# when something already accepts connections there (nginx would retry its
# bind for many seconds, then exit without a hint).
port_free() {
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then
        die "$1:$2 is already in use; set $3 to a free one, e.g. $3=$4 make demo"
    fi
}

nginx_bin=$(command -v nginx || true)
php_fpm=$(find_php_fpm || true)
if [[ -z $nginx_bin || -z $php_fpm ]]; then
    install_packages
    nginx_bin=$(command -v nginx) || die "nginx still not found after install"
    php_fpm=$(find_php_fpm) || true
    [[ -n $php_fpm ]] || die "php-fpm still not found after install"
fi

phpinit=$repo/bin/phpinit
if [[ ! -x $phpinit ]]; then
    command -v go >/dev/null || die "bin/phpinit is missing and Go is not installed (https://go.dev/dl/)"
    echo "demo: building bin/phpinit"
    (cd "$repo" && CGO_ENABLED=0 go build -trimpath -o bin/phpinit ./cmd/phpinit)
fi

port_free 127.0.0.1 "$port" PHPINIT_DEMO_PORT 18080
port_free 127.0.0.1 "$status_port" PHPINIT_DEMO_STATUS_PORT 18081
http_host=${http_listen%:*}
http_host=${http_host#[}
http_host=${http_host%]}
port_free "${http_host:-127.0.0.1}" "${http_listen##*:}" PHPINIT_DEMO_HTTP 127.0.0.1:19180

# As root, show the privilege drop: the programs run as www-data.
run_as=""
if [[ $(id -u) -eq 0 ]]; then
    id www-data >/dev/null 2>&1 || die "running as root but user www-data does not exist"
    run_as=www-data
fi

# nginx.conf's `user` only matters when nginx is run as root (e.g. by hand).
worker_user="$(id -un) $(id -gn)"
[[ -n $run_as ]] && worker_user="$run_as $run_as"

echo "demo: writing $demo"
if [[ -e $demo && ! -O $demo ]]; then
    die "$demo belongs to another user; set PHPINIT_DEMO_DIR to a directory of your own"
fi
mkdir -p "$demo"/{www,etc,log,tmp,script/init.d,conf/nginx,conf/php-fpm} \
    "$run"/{php,nginx,phpinit}
chmod 0755 "$demo" "$demo/www"
chmod 0700 "$run/phpinit"

# Rewrite the shipped configs' container paths into the demo tree; the demo
# serves plain HTTP on localhost, so the site's HTTPS lines go (the image's
# certificate lives in /run/tls). The check afterwards catches a shipped path
# this list does not know yet.
rewrite() { # src dst
    sed -e "s|/run/nginx|$run/nginx|g" \
        -e "s|/tmp/nginx-|$demo/tmp/nginx-|g" \
        -e "s|/run/php|$run/php|g" \
        -e "s|/data/conf/nginx|$demo/conf/nginx|g" \
        -e "s|/data/conf/php-fpm|$demo/conf/php-fpm|g" \
        -e "s|/data/www|$demo/www|g" \
        -e "s|127\.0\.0\.1:8081|127.0.0.1:$status_port|g" \
        -e "s|^user www www;|user $worker_user;|" \
        -e "s|^\([[:space:]]*listen\) 80 default_server;|\1 127.0.0.1:$port default_server;|" \
        -e "/^[[:space:]]*listen 443 /d" -e "/^[[:space:]]*ssl_/d" \
        "$1" >"$2"
    if grep -vE '^[[:space:]]*[#;]' "$2" | sed "s|$demo|DEMO|g" |
        grep -nE '([[:space:]:=](/data/|/run/|/tmp/)|listen (80|443) )'; then
        die "$1 has a path the demo does not rewrite (lines above)"
    fi
}
rewrite "$repo/configs/nginx/nginx.conf" "$demo/etc/nginx.conf"
rewrite "$repo/configs/php-fpm/php-fpm.conf" "$demo/etc/php-fpm.conf"
rewrite "$repo/configs/nginx/default.conf" "$demo/conf/nginx/default.conf"
rewrite "$repo/configs/php-fpm/www.conf" "$demo/conf/php-fpm/www.conf"
# Keep an edited page; the configs above are rewritten on every run.
[[ -e $demo/www/index.php ]] || cp "$repo/configs/www/index.php" "$demo/www/index.php"

# The hook: like /data/script/script.sh in the image; its exports reach PHP.
cat >"$demo/script/script.sh" <<'EOF'
# Sourced by phpinit before any program starts; exports reach every program.
export WELCOME_MESSAGE="Hello from phpinit's demo (set in script/script.sh)"
EOF

if [[ -n $run_as ]]; then
    chown "$run_as:" "$run/php" "$run/nginx" "$demo/log" "$demo/tmp"
fi

# nginx 1.19.5+ can be told to log to stderr before it has read its config
# (Debian's build does already; Ubuntu's would try /var/log/nginx first).
nginx_early=""
if "$nginx_bin" -h 2>&1 | grep -q -- '-e filename'; then
    nginx_early='-e, stderr, '
fi
user_line=""
[[ -n $run_as ]] && user_line="user: $run_as"

cat >"$demo/phpinit.yaml" <<EOF
# Generated by scripts/demo.sh: configs/phpinit.yaml with the demo's paths.
log:
  format: text
  level: info
hooks:
  script: $demo/script/script.sh
  dir: $demo/script/init.d
shutdown:
  grace: 9s
programs:
  php-fpm:
    command: [$php_fpm, --nodaemonize, --fpm-config, $demo/etc/php-fpm.conf]
    $user_line
    stop_signal: QUIT
    stop_timeout: 8s
    reload_signal: USR2
    reopen_signal: USR1
    check: [$php_fpm, -t, --fpm-config, $demo/etc/php-fpm.conf]
    watch: [$demo/conf/php-fpm]
    ready:
      fastcgi: unix://$run/php/php-fpm.sock
      path: /ping
    live:
      fastcgi: unix://$run/php/php-fpm-status.sock
      path: /ping
      failure_threshold: 5
  nginx:
    command: [$nginx_bin, ${nginx_early}-c, $demo/etc/nginx.conf, -g, "daemon off;"]
    $user_line
    depends_on: [php-fpm]
    stop_signal: QUIT
    stop_timeout: 8s
    reload_signal: HUP
    reopen_signal: USR1
    check: [$nginx_bin, ${nginx_early}-t, -q, -c, $demo/etc/nginx.conf]
    watch: [$demo/conf/nginx]
    ready:
      http: http://127.0.0.1:$status_port/ready
    live:
      http: http://127.0.0.1:$status_port/ready
      failure_threshold: 5
watch:
  debounce: 500ms
control:
  socket: $run/phpinit/phpinit.sock
http:
  listen: "$http_listen"
metrics:
  phpfpm:
    - address: unix://$run/php/php-fpm-status.sock
      path: /status
  nginx: http://127.0.0.1:$status_port/stub_status
EOF

cat <<EOF

  phpinit demo in $demo${run_as:+ (programs run as $run_as)}

    site          http://127.0.0.1:$port/
    end to end    http://127.0.0.1:$port/.phpinit/ping
    health        http://$http_listen/healthz   http://$http_listen/readyz
    metrics       http://$http_listen/metrics
    nginx status  http://127.0.0.1:$status_port/stub_status
    control       $phpinit ctl --config $demo/phpinit.yaml status

  Edit $demo/conf/nginx/default.conf or $demo/conf/php-fpm/www.conf
  and watch phpinit check and reload. Ctrl-C stops gracefully.

EOF

cmd=("$phpinit" run --config "$demo/phpinit.yaml")
# The demo's own settings are no phpinit keys: phpinit would warn about them.
unset PHPINIT_DEMO_DIR PHPINIT_DEMO_PORT PHPINIT_DEMO_STATUS_PORT PHPINIT_DEMO_HTTP
if $prepare_only; then
    printf 'demo: prepared; run:  %s\n' "${cmd[*]}"
    exit 0
fi
exec "${cmd[@]}"
