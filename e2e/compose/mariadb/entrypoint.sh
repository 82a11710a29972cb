#!/bin/sh
# The official image's first-start setup, for MARIADB_DATABASE, MARIADB_USER
# and MARIADB_PASSWORD; root keeps unix-socket authentication (as with
# MARIADB_RANDOM_ROOT_PASSWORD, no password is known to anyone).
set -eu
install -d -o mysql -g mysql /run/mysqld
chown mysql:mysql /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
fi
init=/run/mysqld/init.sql
{
  if [ -n "${MARIADB_DATABASE:-}" ]; then
    echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
  fi
  if [ -n "${MARIADB_USER:-}" ]; then
    echo "CREATE USER IF NOT EXISTS '$MARIADB_USER'@'%' IDENTIFIED BY '${MARIADB_PASSWORD:-}';"
    [ -n "${MARIADB_DATABASE:-}" ] && echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
  fi
} >"$init"
chown mysql "$init"
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 \
  --skip-name-resolve --init-file="$init"
