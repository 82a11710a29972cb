#!/usr/bin/env bash
# site.sh DIR PORT HTTP_PORT PHPINIT
#
# Lays out one nginx + php-fpm site under DIR (created, readable by www-data)
# and the three ways of running it as PID 1 that bench/run.sh compares:
#
#   DIR/phpinit.yaml      phpinit: nginx depends_on php-fpm; the probes of
#                         the shipped config (configs/phpinit.yaml): a
#                         readiness and a liveness probe on each program,
#                         FastCGI ping.path for php-fpm, HTTP for nginx;
#                         both programs' listening sockets held (sockets:)
#   DIR/phpinit-noprobe.yaml  the same without any probe (idle bench only)
#   DIR/supervisord.conf  supervisord -n: php-fpm priority 10, nginx 20
#   DIR/byhand.sh         php-fpm and nginx started in the background with
#                         no waiting at all: the lower bound for start-up
#   DIR/tini.sh           the same under tini, ending at the first exit
#                         (bash wait -n): the usual tini start script
#   DIR/s6/               an s6-svscan scan directory: php-fpm and nginx
#                         services (run scripts, down-signal QUIT)
#
# The same nginx.conf, php-fpm.conf and index.php serve all three. Nothing
# under /etc/nginx or /etc/php is touched: every path (pid files, sockets,
# temp paths, logs) lives under DIR. Both daemons run as www-data and the
# site listens on 127.0.0.1 only.
set -euo pipefail

dir=${1:?usage: site.sh DIR PORT HTTP_PORT PHPINIT}
port=${2:?port}
http_port=${3:?http port}
phpinit=${4:?phpinit binary}

mkdir -p "$dir"/{www,conf/php-fpm,run,tmp,log,script/init.d}
chmod 755 "$dir"
chown www-data:www-data "$dir"/{run,tmp,log}

# The page reports which master owns the worker that answered, so the
# restart bench can tell a new master's worker from an orphaned old one
# (whose parent is then PID 1).
cat >"$dir/www/index.php" <<'EOF'
<?php echo "pid=", getmypid(), " ppid=", posix_getppid(), "\n";
EOF

# The shipped pool (configs/php-fpm/www.conf) with paths under $dir. The
# error log is a file, not /proc/self/fd/2: reopening an inherited pipe by
# path as www-data fails (EACCES) under supervisord and a plain shell, and
# the log destination should not differ between the contenders.
cat >"$dir/conf/php-fpm.conf" <<EOF
[global]
pid = $dir/run/php-fpm.pid
error_log = $dir/log/php-fpm.log
daemonize = no
process_control_timeout = 8s
include = $dir/conf/php-fpm/*.conf
EOF
cat >"$dir/conf/php-fpm/www.conf" <<EOF
[www]
listen = $dir/run/php.sock
ping.path = /ping
ping.response = pong
pm = dynamic
pm.max_children = 10
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 4
pm.max_requests = 500
clear_env = no
catch_workers_output = yes
decorate_workers_output = no
EOF

cat >"$dir/conf/nginx.conf" <<EOF
pid $dir/run/nginx.pid;
error_log stderr error;
worker_processes auto;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        location = /ready { return 200 "ready\n"; }
        root $dir/www;
        index index.php;
        location ~ \.php\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass unix:$dir/run/php.sock;
        }
    }
}
EOF

fpm_cmd="php-fpm8.2 --nodaemonize --fpm-config $dir/conf/php-fpm.conf"
nginx_args="-e stderr -p $dir -c $dir/conf/nginx.conf"

cat >"$dir/phpinit.yaml" <<EOF
log: {level: info}
hooks: {script: $dir/script/script.sh, dir: $dir/script/init.d}
http: {listen: "127.0.0.1:$http_port"}
control: {socket: $dir/run/phpinit.sock}
programs:
  php-fpm:
    command: [php-fpm8.2, --nodaemonize, --fpm-config, $dir/conf/php-fpm.conf]
    user: www-data
    stop_signal: QUIT
    ready: {fastcgi: "unix://$dir/run/php.sock", path: /ping}
    live: {fastcgi: "unix://$dir/run/php.sock", path: /ping, interval: 30s, failure_threshold: 3}
    sockets: [unix://$dir/run/php.sock]
  nginx:
    command: [nginx, -e, stderr, -p, $dir, -c, $dir/conf/nginx.conf, -g, "daemon off;"]
    user: www-data
    depends_on: [php-fpm]
    stop_signal: QUIT
    ready: {http: "http://127.0.0.1:$port/ready"}
    live: {http: "http://127.0.0.1:$port/ready", interval: 30s, failure_threshold: 3}
    sockets: [tcp://127.0.0.1:$port]
EOF

# The same without any probe: the idle bench runs both to show what the
# probes cost.
grep -v -e '^    ready: ' -e '^    live: ' "$dir/phpinit.yaml" >"$dir/phpinit-noprobe.yaml"

# The classic image's supervisord.conf: priorities order the starts, but
# supervisord does not wait for php-fpm to answer before starting nginx.
cat >"$dir/supervisord.conf" <<EOF
[supervisord]
nodaemon=true
user=root
logfile=$dir/log/supervisord.log
logfile_maxbytes=0
pidfile=$dir/run/supervisord.pid

[unix_http_server]
file=$dir/run/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$dir/run/supervisor.sock

[program:php-fpm]
command=$fpm_cmd
user=www-data
priority=10
autorestart=true
stopsignal=QUIT
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
redirect_stderr=true

[program:nginx]
command=nginx $nginx_args -g "daemon off;"
user=www-data
priority=20
autorestart=true
stopsignal=QUIT
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
redirect_stderr=true
EOF

cat >"$dir/byhand.sh" <<EOF
#!/bin/sh
# By hand: both daemons in the background, nginx not waiting for php-fpm.
as_www="setpriv --reuid=www-data --regid=www-data --init-groups"
\$as_www $fpm_cmd &
\$as_www nginx $nginx_args -g 'daemon off;' &
wait
EOF
chmod 755 "$dir/byhand.sh"

# tini + a start script, as images without a supervisor do it: when either
# daemon exits the script exits, tini with it, and the container runtime
# restarts the whole container. tini is PID 1 of the namespace (no -s).
cat >"$dir/tini.sh" <<EOF
#!/bin/bash
as_www="setpriv --reuid=www-data --regid=www-data --init-groups"
\$as_www $fpm_cmd &
\$as_www nginx $nginx_args -g 'daemon off;' &
wait -n
exit \$?
EOF
chmod 755 "$dir/tini.sh"

# s6: s6-svscan as PID 1 over two services. s6 has no dependencies between
# services, so nginx starts with php-fpm; down-signal makes s6-svc -r and
# stops graceful (QUIT) like the other contenders.
for svc in php-fpm nginx; do
  mkdir -p "$dir/s6/$svc"
  echo QUIT >"$dir/s6/$svc/down-signal"
done
cat >"$dir/s6/php-fpm/run" <<EOF
#!/bin/sh
exec setpriv --reuid=www-data --regid=www-data --init-groups $fpm_cmd 2>&1
EOF
cat >"$dir/s6/nginx/run" <<EOF
#!/bin/sh
exec setpriv --reuid=www-data --regid=www-data --init-groups nginx $nginx_args -g 'daemon off;' 2>&1
EOF
chmod 755 "$dir/s6/php-fpm/run" "$dir/s6/nginx/run"

# orphans.sh N: N background children that each wait for one line on fd 3;
# then the script exits, so all N are reparented to PID 1: orphans. The
# bench lets them exit by writing lines into the pipe (dash's read takes a
# byte at a time: one newline, one orphan). One fork each and no exec:
# process creation is slow on small VMs, and 5,000 `(sleep 0.1 &)` (two
# forks and an exec each) took minutes here.
cat >"$dir/orphans.sh" <<'EOF'
#!/bin/sh
n=$1 i=0
while [ "$i" -lt "$n" ]; do
  read -r _ <&3 &
  i=$((i + 1))
done
EOF
chmod 755 "$dir/orphans.sh"

"$phpinit" check --offline --config "$dir/phpinit.yaml" >/dev/null
