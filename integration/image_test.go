package integration

// The image rehearsal: docker/Dockerfile's final stage replayed on this
// host, without Docker, and run the way `docker run` runs it.
//
// A shell wrapper is PID 1 of fresh mount, PID and network namespaces
// (unshare). It mounts an overlay whose lower layer is the host's root
// filesystem (it has the same Debian 12 nginx and php8.2-fpm the image
// installs) and whose upper layer is a tmpfs, so nothing it writes reaches
// the host. On it, it replays the Dockerfile: each COPY from the repo, each
// RUN in a chroot with apt-get stubbed out. Then it mounts what Docker
// mounts (volumes, /dev, /proc, /tmp; /run too for --read-only), chroots,
// and execs the ENTRYPOINT, which stays PID 1. The test talks to it from a
// thread that setns(2)s into its network namespace, edits its files through
// /proc/PID/root, and runs the HEALTHCHECK and `phpinit ctl` with nsenter as
// `docker exec` would.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/config"
)

// imageRun is one way of running the image.
type imageRun struct {
	name string
	// readOnly is `docker run --read-only --tmpfs /run --tmpfs /tmp`: the
	// root filesystem read-only, /run empty (mode 1777, Docker's default
	// for a tmpfs) at start.
	readOnly bool
	// uid is `docker run --user UID`; 0 is the image's default, root.
	uid int
}

func TestImageRehearsal(t *testing.T) {
	needImageRehearsal(t)
	for _, run := range []imageRun{
		{name: "root"},
		{name: "read-only", readOnly: true},
		{name: "user-1000", uid: 1000},
		// As deploy/kubernetes runs it: runAsUser 1000,
		// readOnlyRootFilesystem, emptyDir on /run and /tmp.
		{name: "read-only-user-1000", readOnly: true, uid: 1000},
	} {
		t.Run(run.name, func(t *testing.T) { rehearse(t, run) })
	}
}

func needImageRehearsal(t *testing.T) {
	t.Helper()
	needRoot(t)
	for _, bin := range []string{"nginx", phpFPM, "nsenter", "chroot", "setpriv", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed: %v", bin, err)
		}
	}
	fs, _ := os.ReadFile("/proc/filesystems")
	if !bytes.Contains(fs, []byte("\toverlay\n")) {
		t.Skip("no overlayfs in this kernel")
	}
}

// The volumes docker-compose.yml bind-mounts from empty host directories;
// the image's other volumes are anonymous ones, which Docker fills with the
// image's content.
func emptyMount(volume string) bool {
	return strings.HasPrefix(volume, "/data/conf/") || volume == "/data/script"
}

func rehearse(t *testing.T, run imageRun) {
	stage := finalStage(t)
	cfg := shippedConfig(t)
	c := startContainer(t, stage, run)
	port := listenPort(t, cfg)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	site := "http://127.0.0.1:80"

	c.waitHTTP(metricsURL+"/readyz", 200, 60*time.Second)

	// The page, through nginx and php-fpm, logged to phpinit's stdout.
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	if body := c.waitHTTP(site+"/?rehearsal="+token, 200, 10*time.Second); !strings.Contains(body, "running under phpinit") {
		t.Errorf("the default page: %q", body)
	}
	access := fmt.Sprintf(`"GET /?rehearsal=%s HTTP/1.1" 200`, token)
	waitFor(t, "nginx's access log line on phpinit's stdout", 10*time.Second, func() bool {
		return strings.Contains(c.stdout.String(), access)
	})
	if strings.Contains(c.stderr.String(), access) {
		t.Errorf("the access log line went to stderr too")
	}
	waitFor(t, "php-fpm's NOTICE lines on phpinit's stderr", 10*time.Second, func() bool {
		return strings.Contains(c.stderr.String(), "NOTICE: ready to handle connections")
	})

	checkUsers(t, c, cfg, run)

	metrics := c.waitHTTP(metricsURL+"/metrics", 200, 10*time.Second)
	for _, re := range []string{`(?m)^phpfpm_up(\{[^}]*\})? 1$`, `(?m)^nginx_up 1$`} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("/metrics lacks %s", re)
		}
	}

	checkSeeded(t, c, stage)

	// `docker exec` and the HEALTHCHECK.
	hc := stage.one(t, "HEALTHCHECK")
	argv, ok := (dockerInstr{Args: strings.TrimSpace(strings.TrimPrefix(hc.Args, "CMD"))}).execForm()
	if !ok {
		t.Fatalf("HEALTHCHECK is not exec form: %s", hc.Args)
	}
	if out, code := c.exec(argv...); code != 0 {
		t.Errorf("HEALTHCHECK %q: exit %d:\n%s", argv, code, out)
	}
	out, code := c.exec(installedBinary(t, stage), "ctl", "status")
	if code != 0 {
		t.Errorf("phpinit ctl status: exit %d:\n%s", code, out)
	}
	for _, name := range []string{"nginx", "php-fpm"} {
		if !regexp.MustCompile(`(?m)^` + name + ` +RUNNING `).MatchString(out) {
			t.Errorf("phpinit ctl status: %s not RUNNING:\n%s", name, out)
		}
	}

	// An edit of the mounted site config is checked and applied.
	nginx := c.child("nginx")
	oldWorkers := children(nginx)
	conf := c.path("/data/conf/nginx/default.conf")
	raw, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	edited := regexp.MustCompile(`(?m)^server \{$`).ReplaceAll(raw, []byte("server {\n    location = /rehearsal-edit { default_type text/plain; return 200 \"edited\\n\"; }"))
	if bytes.Equal(edited, raw) {
		t.Fatalf("no `server {` line in the seeded default.conf:\n%s", raw)
	}
	if err := os.WriteFile(conf, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited location", 20*time.Second, func() bool {
		code, body, _ := c.get(site + "/rehearsal-edit")
		return code == 200 && body == "edited\n"
	})
	// The workers from before the reload finish what they serve, and may
	// accept a connection until nginx's master tells them to quit; then
	// worker_shutdown_timeout cuts it. A slow request must not land there.
	waitFor(t, "nginx's workers from before the reload to exit", 20*time.Second, func() bool {
		for _, w := range oldWorkers {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", w)); err == nil {
				return false
			}
		}
		return true
	})
	if c.child("nginx") != nginx {
		t.Errorf("the nginx master changed on reload")
	}

	drainOnStop(t, c, stage)
}

// checkUsers: nginx and php-fpm run as the configured user of the image,
// workers included, with no capability but nginx's NET_BIND_SERVICE.
func checkUsers(t *testing.T, c *container, cfg *config.Config, run imageRun) {
	t.Helper()
	if self, _ := readProc(c.pid); self.UID != run.uid {
		t.Errorf("phpinit runs as uid %d, want %d", self.UID, run.uid)
	}
	for _, name := range []string{"php-fpm", "nginx"} {
		user := cfg.Programs[name].User
		uid := c.lookupUID(user)
		master := c.child(name)
		procs := append([]int{master}, children(master)...)
		for _, pid := range procs {
			if p, _ := readProc(pid); p.UID != uid {
				t.Errorf("%s process %d (%s) runs as uid %d, want %s (%d)", name, pid, p.Comm, p.UID, user, uid)
			}
		}
		want := uint64(0)
		if name == "nginx" && run.uid == 0 {
			want = 1 << unix.CAP_NET_BIND_SERVICE
		}
		if got := capEff(master); got != want {
			t.Errorf("%s master: effective capabilities %#x, want %#x", name, got, want)
		}
	}
}

// checkSeeded: every empty config volume got the image's defaults, owned
// like the directory.
func checkSeeded(t *testing.T, c *container, stage dockerStage) {
	t.Helper()
	seen := map[string]bool{}
	for _, in := range stage.all("COPY") {
		w := in.words()
		rest, ok := strings.CutPrefix(w[len(w)-1], "/usr/share/phpinit/defaults/")
		if !ok {
			continue
		}
		name, file, _ := strings.Cut(rest, "/")
		want, err := os.ReadFile(filepath.Join(repoRoot, w[0]))
		if err != nil {
			t.Fatal(err)
		}
		dir := "/data/conf/" + name
		got, err := os.ReadFile(c.volume(dir, file))
		if err != nil {
			t.Errorf("not seeded: %v", err)
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s/%s differs from %s", dir, file, w[0])
		}
		var dst, parent syscall.Stat_t
		if syscall.Stat(c.volume(dir, file), &dst) == nil && syscall.Stat(c.volume(dir), &parent) == nil && dst.Uid != parent.Uid {
			t.Errorf("%s/%s is owned by uid %d, its directory by %d", dir, file, dst.Uid, parent.Uid)
		}
		logged := regexp.MustCompile(`msg="seeded empty config directory[^"]*" dir=` + regexp.QuoteMeta(dir) + ` `)
		if !seen[name] && !logged.MatchString(c.stderr.String()) {
			t.Errorf("no log line for seeding %s", dir)
		}
		seen[name] = true
	}
	if len(seen) == 0 {
		t.Fatal("the Dockerfile copies no defaults to /usr/share/phpinit/defaults")
	}
}

// drainOnStop: requests in flight when `docker stop` sends STOPSIGNAL are
// answered, and phpinit exits 0.
func drainOnStop(t *testing.T, c *container, stage dockerStage) {
	t.Helper()
	const slow = `<?php
// Written by the image rehearsal: holds the request until the test says.
file_put_contents('/tmp/rehearsal-started', "x", FILE_APPEND | LOCK_EX);
while (!file_exists('/tmp/rehearsal-release')) {
    usleep(10000);
    clearstatcache();
}
echo "slow done\n";
`
	if err := os.WriteFile(c.path("/data/www/slow.php"), []byte(slow), 0o644); err != nil {
		t.Fatal(err)
	}
	nginx := c.child("nginx")
	// One request per php-fpm worker (the pool grows to that, one worker a
	// second).
	n := min(10, poolMaxChildren(t))
	type result struct {
		code int
		body string
		err  error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			code, body, err := c.get("http://127.0.0.1:80/slow.php")
			results <- result{code, body, err}
		}()
	}
	waitFor(t, fmt.Sprintf("%d slow requests in PHP", n), 20*time.Second, func() bool {
		b, _ := os.ReadFile(c.path("/tmp/rehearsal-started"))
		return len(b) == n
	})

	sig := unix.SignalNum(strings.TrimSpace(stage.one(t, "STOPSIGNAL").Args))
	if sig == 0 {
		t.Fatal("STOPSIGNAL names no signal")
	}
	if err := syscall.Kill(c.pid, sig); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nginx workers shutting down", 10*time.Second, func() bool { return nginxDraining(nginx) })
	if err := os.WriteFile(c.path("/tmp/rehearsal-release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range n {
		r := <-results
		if r.err != nil || r.code != 200 || r.body != "slow done\n" {
			t.Errorf("in-flight request during stop: %d %q %v", r.code, r.body, r.err)
		}
	}
	if code := c.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after %v, want 0", code, sig)
	}
}

// nginxDraining reports whether a worker of the nginx master got QUIT (on
// a stop or a reload) and still serves a connection: nginx retitles it.
func nginxDraining(master int) bool {
	for _, w := range children(master) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", w))
		if bytes.Contains(cmdline, []byte("shutting down")) {
			return true
		}
	}
	return false
}

// poolMaxChildren reads pm.max_children from the shipped pool.
func poolMaxChildren(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "configs", "php-fpm", "www.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^pm\.max_children\s*=\s*(\d+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("configs/php-fpm/www.conf: no pm.max_children")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// capEff is a process's effective capability set.
func capEff(pid int) uint64 {
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, "CapEff:"); ok {
			v, _ := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			return v
		}
	}
	return ^uint64(0)
}

// container is the image running under unshare.
type container struct {
	t      *testing.T
	run    imageRun
	dir    string // host temp dir: the wrapper, the base layer, volumes
	pid    int    // phpinit (PID 1 inside), as the host sees it
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	code   int
	client *http.Client
}

// path is a file of the container's, seen through phpinit's root.
func (c *container) path(p string) string {
	return fmt.Sprintf("/proc/%d/root%s", c.pid, p)
}

// volume is the host directory mounted at the container's VOLUME v.
func (c *container) volume(v string, elem ...string) string {
	return filepath.Join(append([]string{c.dir, "volumes", volumeSlug(v)}, elem...)...)
}

func volumeSlug(v string) string { return strings.ReplaceAll(strings.Trim(v, "/"), "/", "-") }

// lookupUID reads the container's /etc/passwd.
func (c *container) lookupUID(name string) int {
	c.t.Helper()
	raw, err := os.ReadFile(c.path("/etc/passwd"))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[0] == name {
			uid, _ := strconv.Atoi(f[2])
			return uid
		}
	}
	c.t.Fatalf("no user %s in the image", name)
	return -1
}

// child is phpinit's child whose command name starts with comm.
func (c *container) child(comm string) int {
	c.t.Helper()
	for _, k := range children(c.pid) {
		if p, ok := readProc(k); ok && strings.HasPrefix(p.Comm, comm) {
			return k
		}
	}
	c.t.Fatalf("no %s under phpinit", comm)
	return 0
}

// exec runs argv in the container as `docker exec` does: its mount, PID
// and network namespaces, root and working directory, and its user.
func (c *container) exec(argv ...string) (string, int) {
	args := []string{"--target", strconv.Itoa(c.pid), "--mount", "--net", "--pid", "--root", "--wd"}
	if c.run.uid != 0 {
		args = append(args, "--setuid", strconv.Itoa(c.run.uid), "--setgid", strconv.Itoa(c.run.uid))
	}
	out, err := exec.Command("nsenter", append(append(args, "--"), argv...)...).CombinedOutput()
	return string(out), exitCode(err)
}

func (c *container) get(url string) (int, string, error) {
	resp, err := c.client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (c *container) waitHTTP(url string, want int, d time.Duration) string {
	c.t.Helper()
	var body, last string
	waitFor(c.t, url+" answering "+strconv.Itoa(want), d, func() bool {
		code, b, err := c.get(url)
		body, last = b, fmt.Sprintf("%d %q %v", code, b, err)
		select {
		case <-c.done:
			c.t.Fatalf("phpinit exited with %d while waiting for %s; last: %s", c.code, url, last)
		default:
		}
		return err == nil && code == want
	})
	return body
}

// wait returns phpinit's exit status (unshare passes it through).
func (c *container) wait(d time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(d):
		c.t.Fatalf("phpinit did not exit within %v", d)
		return -1
	}
}

// startContainer lays out the host side, starts the wrapper and waits for
// it to have exec'd phpinit.
func startContainer(t *testing.T, stage dockerStage, run imageRun) *container {
	t.Helper()
	dir, err := os.MkdirTemp("", "phpinit-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &container{t: t, run: run, dir: dir, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	for _, d := range []string{"root", "layers", "volumes"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeBaseLayer(t, filepath.Join(dir, "base"))
	script := containerScript(t, c, stage)
	if err := os.WriteFile(filepath.Join(dir, "container.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("unshare", "--mount", "--pid", "--fork", "--net", "--mount-proc", "--kill-child",
		"/bin/sh", filepath.Join(dir, "container.sh"))
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.code = exitCode(cmd.Wait())
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			if c.pid != 0 {
				syscall.Kill(c.pid, syscall.SIGKILL)
			} else {
				cmd.Process.Kill()
			}
			<-c.done
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", c.stdout, c.stderr)
		}
	})
	// The wrapper builds the image, then execs phpinit in place.
	waitFor(t, "phpinit to start", 120*time.Second, func() bool {
		select {
		case <-c.done:
			t.Fatalf("the container exited with %d before phpinit ran:\n%s", c.code, c.stderr)
		default:
		}
		kids := children(cmd.Process.Pid)
		if len(kids) == 0 {
			return false
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", kids[0])); string(comm) == "phpinit\n" {
			c.pid = kids[0]
		}
		return c.pid != 0
	})
	dial := newNetnsDialer(t, c.pid)
	c.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
	return c
}

// writeBaseLayer writes what differs between the host's root and
// debian:bookworm-slim as far as the Dockerfile cares: the slim image has
// no user or group 1000 (this host may) and no www, which the RUN adds.
// It also holds the apt-get stub: the host has the packages already.
func writeBaseLayer(t *testing.T, base string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(base, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	stubs := filepath.Join(base, filepath.FromSlash(stubDir))
	if err := os.MkdirAll(stubs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stubs, "apt-get"), []byte("#!/bin/sh\necho \"rehearsal: skipped apt-get $*\" >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Names to drop, from passwd (uid) and group (gid): the third field.
	drop := map[string]map[string]bool{"passwd": {}, "group": {}}
	for file := range drop {
		raw, err := os.ReadFile("/etc/" + file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Split(line, ":")
			if len(f) > 2 && (f[2] == "1000" || f[0] == "www") {
				drop[file][f[0]] = true
			}
		}
	}
	for file, names := range map[string]map[string]bool{
		"passwd": drop["passwd"], "shadow": drop["passwd"],
		"group": drop["group"], "gshadow": drop["group"],
	} {
		src := "/etc/" + file
		raw, err := os.ReadFile(src)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, line := range strings.SplitAfter(string(raw), "\n") {
			name, _, _ := strings.Cut(line, ":")
			if !names[name] {
				keep = append(keep, line)
			}
		}
		copyWithMeta(t, src, filepath.Join(base, "etc", file), []byte(strings.Join(keep, "")))
	}
}

// copyWithMeta writes body to dst with src's mode and owner.
func copyWithMeta(t *testing.T, src, dst string, body []byte) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(src, &st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, os.FileMode(st.Mode&0o777)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dst, int(st.Uid), int(st.Gid)); err != nil {
		t.Fatal(err)
	}
}

// stubDir holds the commands a RUN may not run here; it is put on the
// base layer and removed once the image is built.
const stubDir = "/.rehearsal/bin"

// dockerPath is Docker's default PATH for a container.
const dockerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// containerScript is the wrapper: namespaces set up, the image built on
// the overlay, Docker's mounts, then the ENTRYPOINT exec'd as PID 1.
func containerScript(t *testing.T, c *container, stage dockerStage) string {
	t.Helper()
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	ctx, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	w("set -eu")
	w("R=%s", shq(filepath.Join(c.dir, "root")))
	w("L=%s", shq(filepath.Join(c.dir, "layers")))
	w("# Docker's network namespace: loopback up; the run's sysctls.")
	w("ip link set lo up")
	if c.run.uid != 0 {
		// Docker's default for a container of its own network namespace:
		// without it a non-root nginx cannot bind port 80.
		w("echo 0 >/proc/sys/net/ipv4/ip_unprivileged_port_start")
	}
	w("# The image: the host's root below, the build's changes in a tmpfs above")
	w("# (overlayfs refuses an upper layer inside the lower one).")
	w(`mount -t tmpfs -o mode=0755 layers "$L"`)
	w(`mkdir "$L/upper" "$L/work"`)
	w(`cp -a %s/. "$L/upper/"`, shq(filepath.Join(c.dir, "base")))
	w(`mount -t overlay image -o lowerdir=/,upperdir="$L/upper",workdir="$L/work" "$R"`)

	env := []string{"PATH=" + dockerPath}
	workdir := "/"
	var entrypoint, cmdArgs []string
	var volumes []string
	for _, in := range stage.Instrs {
		w("# Dockerfile:%d %s", in.Line, in.Cmd)
		switch in.Cmd {
		case "COPY":
			copyScript(t, w, in, ctx)
		case "RUN":
			// The packages are the host's: apt-get is a no-op.
			w(`chroot "$R" /usr/bin/env -i PATH=%s:%s %s /bin/sh -c %s`, stubDir, dockerPath, shJoin(env[1:]), shq(in.Args))
		case "WORKDIR":
			workdir = in.Args
			w(`mkdir -p "$R"%s`, shq(workdir))
		case "ENV":
			for _, kv := range strings.Fields(in.Args) {
				if !strings.Contains(kv, "=") || strings.ContainsAny(kv, `"'$`) {
					t.Fatalf("Dockerfile:%d: the rehearsal reads only ENV K=V without quotes: %s", in.Line, in.Args)
				}
				env = append(env, kv)
			}
		case "VOLUME":
			volumes = append(volumes, in.words()...)
		case "ENTRYPOINT", "CMD":
			argv, ok := in.execForm()
			if !ok {
				t.Fatalf("Dockerfile:%d: %s is not exec form", in.Line, in.Cmd)
			}
			if in.Cmd == "ENTRYPOINT" {
				entrypoint, cmdArgs = argv, nil // Docker resets CMD
			} else {
				cmdArgs = argv
			}
		case "ARG", "LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK":
			// Metadata: checked by the test, not by the build.
		default:
			t.Fatalf("Dockerfile:%d: the rehearsal cannot replay %s yet", in.Line, in.Cmd)
		}
	}

	w(`rm -r "$R"%s`, shq(path.Dir(stubDir)))

	if c.run.readOnly {
		w("# --read-only")
		w(`mount --bind "$R" "$R"`)
		w(`mount -o remount,bind,ro "$R"`)
	}
	w("# Volumes: empty host directories (compose's bind mounts), or filled")
	w("# from the image (anonymous volumes).")
	for _, v := range volumes {
		host := c.volume(v)
		if err := os.MkdirAll(host, 0o755); err != nil {
			t.Fatal(err)
		}
		if emptyMount(v) {
			// A developer's directory: theirs, as `docker run --user` is.
			if err := os.Chown(host, c.run.uid, c.run.uid); err != nil {
				t.Fatal(err)
			}
		} else {
			w(`cp -a "$R"%s/. %s/`, shq(v), shq(host))
			w(`chown --reference="$R"%s %s && chmod --reference="$R"%s %s`, shq(v), shq(host), shq(v), shq(host))
		}
		w(`mount --bind %s "$R"%s`, shq(host), shq(v))
	}
	if c.run.readOnly {
		w(`mount -t tmpfs -o mode=1777,nosuid,nodev run "$R/run"`)
	}
	w(`mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$R/tmp"`)
	w("# /dev as Docker makes it, /proc of the new PID namespace, /sys read-only.")
	w(`mount -t tmpfs -o mode=0755,nosuid dev "$R/dev"`)
	w(`for n in null zero full random urandom tty; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done`)
	w(`ln -s /proc/self/fd "$R/dev/fd"`)
	w(`ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"`)
	w(`mkdir "$R/dev/shm" "$R/dev/pts" && mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"`)
	w(`mount -t proc proc "$R/proc"`)
	w(`mount -t sysfs -o ro sysfs "$R/sys"`)

	home := "/root"
	var user []string
	if c.run.uid != 0 {
		// As Docker sets it for --user: the user's home, which the
		// Dockerfile's useradd makes /data/www.
		home = "/data/www"
		u := strconv.Itoa(c.run.uid)
		user = []string{"setpriv", "--reuid=" + u, "--regid=" + u, "--init-groups"}
		// runc's fixStdioPermissions: the container's stdout and stderr
		// pipes belong to its user, who could not open /proc/self/fd/2
		// (as php-fpm does) otherwise.
		w(`chown %s:%s /proc/self/fd/1 /proc/self/fd/2`, u, u)
	}
	argv := append(append([]string{}, entrypoint...), cmdArgs...)
	env = append(env, "HOME="+home)
	w(`exec chroot "$R" %s /usr/bin/env -i -C %s %s %s`, shJoin(user), shq(workdir), shJoin(env), shJoin(argv))
	return b.String()
}

// copyScript replays a COPY: files and directories from the context (or
// phpinit for the build stage's binary), owned by root or --chown.
func copyScript(t *testing.T, w func(string, ...any), in dockerInstr, ctx string) {
	t.Helper()
	words := in.words()
	srcs, dest := words[:len(words)-1], words[len(words)-1]
	if !path.IsAbs(dest) {
		t.Fatalf("Dockerfile:%d: the rehearsal wants absolute COPY destinations: %s", in.Line, dest)
	}
	owner := "0:0"
	if o := in.Flags["chown"]; o != "" {
		owner = o
	}
	intoDir := strings.HasSuffix(dest, "/") || len(srcs) > 1
	for _, src := range srcs {
		var from string
		if _, ok := in.Flags["from"]; ok {
			if path.Base(src) != "phpinit" {
				t.Fatalf("Dockerfile:%d: the rehearsal knows only the phpinit binary from the build stage", in.Line)
			}
			from = phpinitBin
		} else {
			from = filepath.Join(ctx, filepath.FromSlash(src))
		}
		st, err := os.Stat(from)
		if err != nil {
			t.Fatalf("Dockerfile:%d: %v", in.Line, err)
		}
		target := dest
		switch {
		case st.IsDir():
			w(`mkdir -p "$R"%s && cp -R --preserve=mode %s/. "$R"%s/`, shq(dest), shq(from), shq(dest))
		case intoDir:
			target = path.Join(dest, path.Base(src))
			w(`mkdir -p "$R"%s && cp --preserve=mode %s "$R"%s`, shq(dest), shq(from), shq(target))
		default:
			w(`mkdir -p "$R"%s && cp --preserve=mode %s "$R"%s`, shq(path.Dir(dest)), shq(from), shq(dest))
		}
		w(`chroot "$R" chown -R %s %s`, shq(owner), shq(target))
	}
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func shJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shq(a)
	}
	return strings.Join(q, " ")
}

// newNetnsDialer dials TCP from inside pid's network namespace. A socket
// belongs to the namespace of the thread that created it, so one goroutine,
// locked to its thread and moved into the namespace with setns(2), creates
// every socket; the connections then work from any goroutine. The thread is
// never unlocked: when the goroutine returns, Go ends the thread rather than
// hand it, still in the namespace, to another goroutine.
func newNetnsDialer(t *testing.T, pid int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	type dialReq struct {
		ctx           context.Context
		network, addr string
		reply         chan<- dialRes
	}
	reqs := make(chan dialReq)
	stop := make(chan struct{})
	ready := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("cannot enter the network namespace of %d: %w", pid, err)
			return
		}
		ready <- nil
		// Dialing an address (no name to resolve, one family) creates the
		// socket on this goroutine, and so on this thread.
		var d net.Dialer
		for {
			select {
			case r := <-reqs:
				conn, err := d.DialContext(r.ctx, r.network, r.addr)
				r.reply <- dialRes{conn, err}
			case <-stop:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(stop) })
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(addr); net.ParseIP(host) == nil {
			return nil, fmt.Errorf("netns dialer: %s is not an IP address", addr)
		}
		reply := make(chan dialRes, 1)
		select {
		case reqs <- dialReq{ctx, network, addr, reply}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-stop:
			return nil, net.ErrClosed
		}
		r := <-reply
		return r.conn, r.err
	}
}

type dialRes struct {
	conn net.Conn
	err  error
}
