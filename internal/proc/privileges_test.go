package proc

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 || !CanRestrictBounding() {
		t.Skip("needs root with CAP_SETPCAP")
	}
}

// statusField reads one field of a /proc/PID/status text.
func statusField(status, key string) string {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func capMask(caps ...uintptr) string {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// TestPrivilegesBoundChild: the child's bounding set is exactly Bounding,
// its ambient capability still works, no_new_privs is set; a child without
// Privileges keeps phpinit's.
func TestPrivilegesBoundChild(t *testing.T) {
	needRoot(t)
	nbs := uintptr(unix.CAP_NET_BIND_SERVICE)
	spec := sh("cat /proc/self/status")
	spec.Credential, spec.AmbientCaps = nobody, []uintptr{nbs}
	spec.Privileges = Privileges{RestrictBounding: true, Bounding: []uintptr{nbs}, NoNewPrivs: true}
	res := Run(context.Background(), spec)
	if !res.OK() {
		t.Fatalf("%s: %s", res.Desc(0), res.Output)
	}
	out := string(res.Output)
	for key, want := range map[string]string{
		"CapBnd": capMask(nbs), "CapAmb": capMask(nbs), "CapEff": capMask(nbs),
		"CapInh": capMask(nbs), "NoNewPrivs": "1", "Uid": "65534\t65534\t65534\t65534",
	} {
		if got := statusField(out, key); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}

	// Root, nothing kept: no capability at all after execve.
	spec = sh("cat /proc/self/status")
	spec.Privileges = Privileges{RestrictBounding: true}
	res = Run(context.Background(), spec)
	for _, key := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if got := statusField(string(res.Output), key); got != capMask() {
			t.Errorf("root child, empty bounding set: %s %q", key, got)
		}
	}

	self, _ := os.ReadFile("/proc/self/status")
	res = Run(context.Background(), sh("cat /proc/self/status"))
	if got, want := statusField(string(res.Output), "CapBnd"), statusField(string(self), "CapBnd"); got != want {
		t.Errorf("child without Privileges: CapBnd %q, want phpinit's %q", got, want)
	}
	if got := statusField(string(res.Output), "NoNewPrivs"); got != "0" {
		t.Errorf("child without Privileges: NoNewPrivs %q", got)
	}
}

// TestPrivilegesLeaveParentAlone: after many restricted spawns, every thread
// of this process still has its full bounding set and no no_new_privs (the
// restricted threads are gone, and no thread was cloned from one).
func TestPrivilegesLeaveParentAlone(t *testing.T) {
	needRoot(t)
	self, _ := os.ReadFile("/proc/self/status")
	full := statusField(string(self), "CapBnd")
	for range 30 {
		spec := sh("exit 0")
		spec.Credential = nobody
		spec.Privileges = Privileges{RestrictBounding: true, NoNewPrivs: true}
		if res := Run(context.Background(), spec); !res.OK() {
			t.Fatalf("%s: %s", res.Desc(0), res.Output)
		}
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/status")
	for _, f := range tasks {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended meanwhile
		}
		if got := statusField(string(raw), "CapBnd"); got != full {
			t.Errorf("%s: CapBnd %s, want %s", f, got, full)
		}
		if got := statusField(string(raw), "NoNewPrivs"); got != "0" {
			t.Errorf("%s: NoNewPrivs %s", f, got)
		}
	}
}

// TestNoNewPrivsSetuid: a setuid-root binary run by nobody gives nothing
// under NoNewPrivs, and root's euid without it.
func TestNoNewPrivsSetuid(t *testing.T) {
	needRoot(t)
	dir, err := os.MkdirTemp("", "phpinit-setuid-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	id := filepath.Join(dir, "id")
	copyFile(t, "/usr/bin/id", id)
	must(t, syscall.Chmod(id, 0o4755))
	for _, tc := range []struct {
		priv Privileges
		want string
	}{
		{Privileges{NoNewPrivs: true}, "65534"},
		{Privileges{NoNewPrivs: true, RestrictBounding: true}, "65534"},
		{Privileges{}, "0"},
	} {
		spec := Spec{Argv: []string{id, "-u"}, Credential: nobody, Privileges: tc.priv}
		res := Run(context.Background(), spec)
		if got := strings.TrimSpace(string(res.Output)); !res.OK() || got != tc.want {
			t.Errorf("%+v: euid %q (%s), want %s", tc.priv, got, res.Desc(0), tc.want)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	must(t, err)
	defer in.Close()
	out, err := os.Create(to)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}

// TestInheritedDescriptors: a descriptor opened without close-on-exec (as
// a launcher leaves one) reaches no child once marked, except one spawned
// with it in its Files.
func TestInheritedDescriptors(t *testing.T) {
	fd, err := syscall.Open("/dev/null", syscall.O_RDONLY, 0) // no O_CLOEXEC
	must(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	probe := fmt.Sprintf("test -e /proc/self/fd/%d && echo open || echo closed", fd)
	if out := Run(context.Background(), sh(probe)).Output; strings.TrimSpace(string(out)) != "open" {
		t.Fatalf("before marking: %q (the test's descriptor should leak)", out)
	}
	marked, err := MarkInheritedCloseOnExec()
	must(t, err)
	found := false
	for _, m := range marked {
		found = found || m == fd
	}
	if !found {
		t.Errorf("marked %v, want %d among them", marked, fd)
	}
	if out := Run(context.Background(), sh(probe)).Output; strings.TrimSpace(string(out)) != "closed" {
		t.Errorf("after marking: %q", out)
	}

	// Passed through at its own number, the gap closed.
	files := PassThrough([]int{fd})
	if len(files) != fd+1 || files[fd] != uintptr(fd) || (fd > 3 && files[3] != ^uintptr(0)) {
		t.Errorf("PassThrough(%d) = %v", fd, files)
	}
	r, w, err := os.Pipe()
	must(t, err)
	defer r.Close()
	files[1] = w.Fd()
	pid, err := ForkExec("/bin/sh", []string{"sh", "-c", probe + "; ls /proc/self/fd | wc -l"}, &Attr{ProcAttr: syscall.ProcAttr{
		Env: []string{"PATH=" + os.Getenv("PATH")}, Files: files,
	}})
	must(t, err)
	w.Close()
	out, _ := io.ReadAll(r)
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, 0, nil)
	lines := strings.Fields(string(out))
	// 0, 1, 2, fd, and the one ls reads /proc/self/fd through.
	if len(lines) != 2 || lines[0] != "open" || lines[1] != strconv.Itoa(5) {
		t.Errorf("passed through: %q, want open and 5 descriptors", out)
	}
}
