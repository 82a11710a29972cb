#!/usr/bin/env bash
# fresh-test.sh: the README's quick start, literally, on a fresh Debian 12.
#
#   sudo scripts/fresh-test.sh        (make fresh-test; about 11 minutes)
#
# Builds two fresh roots from a debootstrap'd bookworm minbase
# (scripts/debootstrap-base.sh) with only Go (this machine's GOROOT), make
# and git, each with a clone of this tree (uncommitted changes included),
# and chroots into them as real root (own mount namespace; /proc, /dev and
# /sys mounted), so that unshare works inside for the integration tests:
#
#   root:  make demo in the background, the page probed, Ctrl-C (SIGINT to
#          its process group); then make test.
#   user:  as a user "dev" with sudo: make demo fails and prints the one
#          install command; dev runs it (sudo make deps); make demo then
#          serves the page, and stops on Ctrl-C.
#
# The chroots share this machine's network: when a demo port is taken here,
# set PHPINIT_DEMO_PORT, PHPINIT_DEMO_STATUS_PORT, PHPINIT_DEMO_HTTP (passed
# in). PHPINIT_FRESH_KEEP=1 keeps the roots (in /var/tmp/phpinit-fresh.*).
# The machine's CA bundle is passed in as SSL_CERT_FILE, for module
# downloads through a TLS-intercepting proxy.
set -euo pipefail
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
die() { printf 'fresh-test: %s\n' "$*" >&2; exit 1; }
say() { printf '\nfresh-test: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || die "needs root (it unpacks and chroots into a Debian root)"
goroot=$(go env GOROOT 2>/dev/null) || die "needs Go on PATH (its GOROOT is copied in)"
tarball=$("$repo/scripts/debootstrap-base.sh")
work=$(mktemp -d /var/tmp/phpinit-fresh.XXXXXX)
chmod 0755 "$work"
start=$SECONDS

# Processes whose root is one of ours (a demo still running after a failure).
kill_inside() {
    local p
    for p in /proc/[0-9]*; do
        case $(readlink "$p/root" 2>/dev/null) in
        "$work"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
        esac
    done
}
cleanup() {
    kill_inside
    if [[ -n ${PHPINIT_FRESH_KEEP:-} ]]; then
        say "kept $work"
    elif [[ -z $(findmnt -rn -o TARGET | grep -F "$work/" || true) ]]; then
        rm -rf "$work"
    else
        say "mounts left under $work; not removing it"
    fi
}
trap cleanup EXIT

# in_root ROOT USER SCRIPT: SCRIPT in bash inside ROOT, as USER, with a
# login-like environment and nothing else of this machine's.
in_root() {
    local root=$1 user=$2 script=$3 home=/root path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    local as=()
    if [[ $user != root ]]; then
        home=/home/$user path=/usr/local/bin:/usr/bin:/bin
        as=(setpriv "--reuid=$user" "--regid=$user" --init-groups)
    fi
    local envs=(PATH="$path:/usr/local/go/bin" HOME="$home" USER="$user" LOGNAME="$user" TERM=dumb LANG=C.UTF-8
        SSL_CERT_FILE=/etc/phpinit-host-ca.crt)
    local v
    for v in PHPINIT_DEMO_PORT PHPINIT_DEMO_STATUS_PORT PHPINIT_DEMO_HTTP; do
        [[ -n ${!v:-} ]] && envs+=("$v=${!v}")
    done
    unshare --mount --propagation private -- bash -euc '
        root=$1; shift
        # The root a mount of its own: unshare --mount-proc inside (the
        # integration tests) changes the propagation of "/", which fails
        # with EINVAL when "/" is no mount point.
        mount --bind "$root" "$root"
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount --rbind /sys "$root/sys"
        exec chroot "$root" "$@"' _ "$root" "${as[@]}" /usr/bin/env -i "${envs[@]}" \
        bash -c "cd ~ && $script"
}
export -f in_root

# make_root NAME: a fresh minbase with Go, make and git, and a clone.
make_root() {
    local root=$work/$1
    mkdir "$root"
    tar -C "$root" -xf "$tarball"
    cp -a "$goroot" "$root/usr/local/go"
    cp /etc/resolv.conf /etc/hosts "$root/etc/"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/phpinit-host-ca.crt"
    in_root "$root" root 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq make git >/dev/null'
}

# clone ROOT DIR OWNER: this tree, uncommitted and untracked files included.
clone() {
    local dst=$1$2
    git clone -q "$repo" "$dst"
    (cd "$repo" && git ls-files -z -m -o --exclude-standard | tar --null -T - -cf -) | tar -C "$dst" -xf -
    in_root "$1" root "chown -R $3: $2"
}

# http_get PORT: GET / from 127.0.0.1:PORT, the response on stdout (bash's
# /dev/tcp: no curl needed on this machine).
http_get() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
        printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && cat <&3' _ "$1"
}

# demo ROOT USER NAME: make demo in the background, probe the page, then
# SIGINT to its process group (what Ctrl-C sends) and wait for the end.
demo() {
    local root=$1 user=$2 log=$work/$3-demo.log port=${PHPINIT_DEMO_PORT:-8080}
    # Its own process group (setsid does not fork here: no job control),
    # so that the SIGINT reaches make, demo.sh and phpinit as Ctrl-C would.
    setsid bash -c 'in_root "$@"' _ "$root" "$user" 'cd phpinit && make demo' >"$log" 2>&1 &
    local pid=$! i
    for ((i = 0; i < 600; i++)); do
        if http_get "$port" >"$work/$3-page.html" 2>/dev/null && grep -q '^HTTP/1.[01] 200' "$work/$3-page.html"; then
            break
        fi
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$log" >&2; die "$3: make demo exited before serving the page"; }
        sleep 1
    done
    grep -q 'running under phpinit' "$work/$3-page.html" 2>/dev/null || { tail -n 30 "$log" >&2; die "$3: no demo page on port $port"; }
    grep -o 'Put your application in <code>[^<]*' "$work/$3-page.html" | sed 's/<code>//' >&2
    kill -INT -- "-$pid"
    for ((i = 0; i < 60; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    kill -0 "$pid" 2>/dev/null && { tail -n 30 "$log" >&2; die "$3: make demo still running 60 s after Ctrl-C"; }
    grep -q 'msg=stopped exit_code=0' "$log" || { tail -n 30 "$log" >&2; die "$3: phpinit did not stop cleanly"; }
    say "$3: make demo served the page and stopped on Ctrl-C ($(grep -c . "$log") lines of output in $log)"
}

say "root: fresh minbase + Go + make + git"
t=$SECONDS
make_root root
clone "$work/root" /root/phpinit root
say "root: ready in $((SECONDS - t)) s; make demo"
t=$SECONDS
demo "$work/root" root root
say "root: make demo took $((SECONDS - t)) s (packages installed on the way); make test"
t=$SECONDS
set +e
in_root "$work/root" root 'cd phpinit && make test' 2>&1 | tee "$work/root-test.log" |
    grep -E '^(ok|FAIL|--- FAIL|tests:|test:|phpinit:|#|panic)' >&2
status=${PIPESTATUS[0]}
set -e
say "root: make test exited $status after $((SECONDS - t)) s: $(grep '^tests:' "$work/root-test.log" || echo 'no summary')"
[[ $status -eq 0 ]] || { tail -n 60 "$work/root-test.log" >&2; die "root: make test failed"; }
# As real root with the packages in, the integration tests must have run.
if grep '^tests:' "$work/root-test.log" | grep -E 'PID 1|PID namespaces|not installed|needs root'; then
    die "root: make test skipped tests that must run here"
fi

say "user: fresh minbase + Go + make + git, a user dev with sudo"
t=$SECONDS
make_root user
in_root "$work/user" root 'export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq sudo >/dev/null &&
    useradd -m -s /bin/bash dev && echo "dev ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/dev && chmod 0440 /etc/sudoers.d/dev'
clone "$work/user" /home/dev/phpinit dev
out=$(in_root "$work/user" dev 'cd phpinit && make demo' 2>&1) && die "user: make demo succeeded without nginx and php-fpm"
install=$(grep -oE '^ +sudo [^ ].*$' <<<"$out" | sed 's/^ *//' | sort -u)
[[ $(grep -c . <<<"$install") -eq 1 ]] || { echo "$out" >&2; die "user: not exactly one install command offered"; }
sed 's/^/    | /' <<<"$out" | grep -v 'go: downloading' >&2
say "user: make demo asked for: $install; running it as dev"
in_root "$work/user" dev "cd phpinit && $install"
demo "$work/user" dev user
say "user: took $((SECONDS - t)) s"
say "passed in $((SECONDS - start)) s"
