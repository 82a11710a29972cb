package integration

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startPID1WithFd5 runs phpinit ARGS as PID 1 the way a launcher that
// leaks a descriptor would: `exec 5<FILE` in the shell that execs it.
func startPID1WithFd5(t *testing.T, file string, args ...string) *pid1 {
	t.Helper()
	script := `exec 5<"$0" && exec unshare --pid --fork --mount-proc --kill-child "$@"`
	return launchPID1(t, exec.Command("sh", append([]string{"-c", script, file, phpinitBin}, args...)...))
}

// rootOnlyFile is a file only root may read.
func rootOnlyFile(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir() // 0700, root's
	f := filepath.Join(dir, "root-only-secret")
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// fdsHolding lists pid's descriptors that are open on file.
func fdsHolding(pid int, file string) []string {
	var out []string
	links, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && target == file {
			out = append(out, l)
		}
	}
	return out
}

// TestInheritedDescriptorDoesNotLeak: phpinit started with fd 5 open on a
// root-only file keeps it to itself: the hooks, the programs and their
// workers, a reload check and an exec probe see only their own
// descriptors, and PHP, as www-data, cannot read the file. Before, `cat
// <&5` from PHP printed it.
func TestInheritedDescriptorDoesNotLeak(t *testing.T) {
	needStack(t)
	secret := rootOnlyFile(t, "TOPSECRET\n")
	st := newSite(t, site{Programs: `  spy:
    command: [sh, -c, 'ls -l /proc/self/fd > {{DIR}}/log/program-fds; trap "" HUP; exec sleep 1000']
    user: www-data
    reload_signal: HUP
    check: [sh, -c, 'ls -l /proc/self/fd > {{DIR}}/log/check-fds']
    ready: {exec: [sh, -c, 'ls -l /proc/self/fd > {{DIR}}/log/probe-fds']}
`})
	fixDir(t, st)
	os.WriteFile(st.path("script/init.d/10-fds"), []byte("#!/bin/sh\nls -l /proc/self/fd > "+st.path("log/hook-fds")+"\n"), 0o755)
	os.WriteFile(st.path("www/fds.php"), []byte(`<?php
// As www-data: every descriptor of this worker, and the content of any
// that is open on the secret (the cat <&5 of the report).
foreach (scandir("/proc/self/fd") as $fd) {
    if ($fd[0] === ".") continue;
    $target = @readlink("/proc/self/fd/$fd");
    echo $fd, " -> ", $target, "\n";
    if ($target === $_GET["secret"]) {
        echo "read: ", @file_get_contents("php://fd/$fd"), "\n";
    }
}
echo "uid: ", posix_geteuid(), "\n";
`), 0o644)

	p := startPID1WithFd5(t, secret, "run", "--config", st.config())
	body := waitHTTP(t, st.url("/fds.php?secret="+secret), 200, 30*time.Second)
	if held := fdsHolding(p.PID, secret); len(held) != 1 {
		t.Fatalf("phpinit holds %v on the secret, want fd 5 (the test's setup is wrong)", held)
	}
	if strings.Contains(body, "TOPSECRET") || strings.Contains(body, "-> "+secret) || !strings.Contains(body, "uid: "+wwwUID(t)) {
		t.Errorf("PHP, as www-data, can see the inherited descriptor:\n%s", body)
	}
	p.waitOutput("msg=running program=spy", 30*time.Second)
	if out, code := runPhpinit(t, "ctl", "--config", st.config(), "reload", "spy"); code != 0 {
		t.Fatalf("ctl reload spy: exit %d: %s", code, out)
	}
	for _, f := range []string{"hook-fds", "program-fds", "check-fds", "probe-fds"} {
		raw, err := os.ReadFile(st.path("log/" + f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if strings.Contains(string(raw), secret) || strings.Contains(string(raw), " 5 -> ") {
			t.Errorf("%s: the inherited descriptor leaked:\n%s", f, raw)
		}
	}
	for _, d := range descendants(p.PID) {
		if held := fdsHolding(d.PID, secret); len(held) > 0 {
			t.Errorf("%s (pid %d) holds the secret: %v", d.Comm, d.PID, held)
		}
	}
}

// TestProgramPrivileges: a program that runs as another user has a
// bounding set of exactly its capabilities (nginx's NET_BIND_SERVICE still
// works as an ambient one) and no_new_privs, so a setuid-root binary gives
// it nothing; with no_new_privs: false it does. Its check and exec probe
// get the same. Before, every program kept phpinit's whole bounding set and
// a setuid binary made PHP root.
func TestProgramPrivileges(t *testing.T) {
	needStack(t)
	www, _ := user.Lookup("www-data")
	st := newSite(t, site{NoStack: true, Programs: `  nbs:
    command: [sh, -c, 'cat /proc/self/status > {{DIR}}/log/nbs-status; exec sleep 1000']
    user: www-data
    capabilities: [NET_BIND_SERVICE]
  plain:
    command: [sh, -c, 'cat /proc/self/status > {{DIR}}/log/plain-status; {{DIR}}/suid-id -u > {{DIR}}/log/plain-euid; exec sleep 1000']
    user: www-data
    reload_signal: WINCH
    check: [sh, -c, 'cat /proc/self/status > {{DIR}}/log/check-status']
    ready: {exec: [sh, -c, 'cat /proc/self/status > {{DIR}}/log/probe-status; {{DIR}}/suid-id -u > {{DIR}}/log/probe-euid']}
  setuid:
    command: [sh, -c, 'cat /proc/self/status > {{DIR}}/log/setuid-status; {{DIR}}/suid-id -u > {{DIR}}/log/setuid-euid; exec sleep 1000']
    user: www-data
    no_new_privs: false
  root:
    command: [sh, -c, 'cat /proc/self/status > {{DIR}}/log/root-status; exec sleep 1000']
`})
	fixDir(t, st)
	suid := st.path("suid-id")
	copyExecutable(t, "/usr/bin/id", suid)
	if err := syscall.Chmod(suid, 0o4755); err != nil {
		t.Fatal(err)
	}
	p := startPID1(t, "run", "--config", st.config())
	for _, name := range []string{"nbs", "plain", "setuid", "root"} {
		p.waitOutput("msg=running program="+name, 30*time.Second)
	}
	if out, code := runPhpinit(t, "ctl", "--config", st.config(), "reload", "plain"); code != 0 {
		t.Fatalf("ctl reload plain: exit %d: %s", code, out)
	}
	self, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	full := statusField(string(self), "CapBnd")
	nbs := fmt.Sprintf("%016x", 1<<10) // CAP_NET_BIND_SERVICE
	none := fmt.Sprintf("%016x", 0)
	for _, tc := range []struct {
		file, key, want string
	}{
		{"nbs-status", "CapBnd", nbs},
		{"nbs-status", "CapAmb", nbs},
		{"nbs-status", "CapEff", nbs},
		{"nbs-status", "NoNewPrivs", "1"},
		{"plain-status", "CapBnd", none},
		{"plain-status", "NoNewPrivs", "1"},
		{"check-status", "CapBnd", none},
		{"check-status", "NoNewPrivs", "1"},
		{"probe-status", "CapBnd", none},
		{"probe-status", "NoNewPrivs", "1"},
		{"setuid-status", "CapBnd", none},
		{"setuid-status", "NoNewPrivs", "0"},
		// Root, as phpinit: its bounding set, and no_new_privs.
		{"root-status", "CapBnd", full},
		{"root-status", "NoNewPrivs", "1"},
	} {
		raw, err := os.ReadFile(st.path("log/" + tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if got := statusField(string(raw), tc.key); got != tc.want {
			t.Errorf("%s: %s %q, want %q", tc.file, tc.key, got, tc.want)
		}
	}
	for file, want := range map[string]string{"plain-euid": www.Uid, "probe-euid": www.Uid, "setuid-euid": "0"} {
		raw, _ := os.ReadFile(st.path("log/" + file))
		if got := strings.TrimSpace(string(raw)); got != want {
			t.Errorf("%s: the setuid-root id says euid %q, want %s", file, got, want)
		}
	}
	if pr, _ := readProc(p.PID); statusField(string(self), "NoNewPrivs") != "0" || pr.UID != 0 {
		t.Errorf("phpinit itself changed: NoNewPrivs %s, uid %d", statusField(string(self), "NoNewPrivs"), pr.UID)
	}
}

func statusField(status, key string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func wwwUID(t *testing.T) string {
	t.Helper()
	www, err := user.Lookup("www-data")
	if err != nil {
		t.Fatal(err)
	}
	return www.Uid
}

// TestDaemonsBounded: the real nginx and php-fpm, masters and workers,
// run as www-data with an empty bounding set (the harness gives them no
// capabilities) and no_new_privs, and still serve PHP.
func TestDaemonsBounded(t *testing.T) {
	st, p := startStack(t, site{})
	waitHTTP(t, st.url("/index.php"), 200, 30*time.Second)
	for _, comm := range []string{"php-fpm", "nginx"} {
		master := masterPID(t, p, comm)
		for _, pid := range append([]int{master}, children(master)...) {
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue // a worker that just exited
			}
			if bnd, nnp := statusField(string(raw), "CapBnd"), statusField(string(raw), "NoNewPrivs"); bnd != fmt.Sprintf("%016x", 0) || nnp != "1" {
				t.Errorf("%s process %d: CapBnd %s, NoNewPrivs %s; want none and 1", comm, pid, bnd, nnp)
			}
		}
	}
}
