package sockets

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseAddress(t *testing.T) {
	good := map[string]Address{
		"tcp://127.0.0.1:9000":         {"tcp", "127.0.0.1:9000"},
		"tcp://[::1]:9000":             {"tcp", "[::1]:9000"},
		"tcp://localhost:0":            {"tcp", "localhost:0"},
		"unix:///run/php/php-fpm.sock": {"unix", "/run/php/php-fpm.sock"},
		"unix:///a":                    {"unix", "/a"},
	}
	for in, want := range good {
		got, err := ParseAddress(in)
		if err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), in)
		}
	}
	bad := map[string]string{
		"127.0.0.1:9000":                      "neither",
		"tcp://:9000":                         "no host",
		"tcp://127.0.0.1":                     "not host:port",
		"tcp://127.0.0.1:70000":               "no valid port",
		"tcp://127.0.0.1:http":                "no valid port",
		"unix://run/php.sock":                 "not absolute",
		"unix:///run//php.sock":               "not clean",
		"unix:///" + strings.Repeat("x", 120): "longer than",
	}
	for in, want := range bad {
		if _, err := ParseAddress(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAddress(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func mustParse(t *testing.T, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTCPEnvAndKeys(t *testing.T) {
	set, err := Bind(t.TempDir(), []Spec{
		{Address: mustParse(t, "tcp://127.0.0.1:0"), UID: -1, GID: -1},
		{Address: mustParse(t, "tcp://[::1]:0"), UID: -1, GID: -1},
	})
	if err != nil {
		t.Skipf("cannot bind loopback (no IPv6?): %v", err)
	}
	defer set.Close()
	keys := set.Keys()
	if !strings.HasPrefix(keys[0], "127.0.0.1:") || !strings.HasPrefix(keys[1], "::1:") {
		t.Fatalf("keys = %q, want 127.0.0.1:PORT and ::1:PORT (php-fpm's form)", keys)
	}
	env := set.Env(3)
	want := []string{"FPM_SOCKETS=" + keys[0] + "=3," + keys[1] + "=4", "NGINX=3;4;"}
	if len(env) != 2 || env[0] != want[0] || env[1] != want[1] {
		t.Fatalf("Env(3) = %q, want %q", env, want)
	}
	if got := set.Env(5)[1]; got != "NGINX=5;6;" {
		t.Fatalf("Env(5) NGINX = %q", got)
	}
	// The held socket accepts connections and they queue until someone
	// accepts: nothing is accepting here.
	c, err := net.Dial("tcp", keys[0])
	if err != nil {
		t.Fatalf("dial held socket: %v", err)
	}
	c.Close()
	files, err := set.Files()
	if err != nil || len(files) != 2 {
		t.Fatalf("Files() = %d files, %v", len(files), err)
	}
}

func TestEmptySetHasNoEnv(t *testing.T) {
	set, err := Bind(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if env := set.Env(3); env != nil {
		t.Fatalf("Env = %q, want none", env)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return sysIno(fi)
}

func TestUnixLinkRelinkClose(t *testing.T) {
	dir := t.TempDir()
	public := filepath.Join(dir, "pub", "php.sock")
	set, err := Bind(filepath.Join(dir, "held"), []Spec{{Address: mustParse(t, "unix://"+public), UID: -1, GID: -1, Mode: 0o666}})
	if err != nil {
		t.Fatal(err)
	}
	priv := set.held[0].private
	if !strings.HasPrefix(priv, filepath.Join(dir, "held")+"/") {
		t.Fatalf("private path %s is not under the runtime dir", priv)
	}
	if inode(t, public) != inode(t, priv) {
		t.Fatal("public path is not a hard link of the private one")
	}
	if fi, _ := os.Stat(public); fi.Mode().Perm() != 0o666 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("public path mode = %v, want socket 0666", fi.Mode())
	}
	if got := set.Env(3)[0]; got != "FPM_SOCKETS="+public+"=3" {
		t.Fatalf("FPM_SOCKETS = %q", got)
	}
	if back, err := set.Relink(); err != nil || len(back) != 0 {
		t.Fatalf("Relink with the path in place = %v, %v; want nothing to do", back, err)
	}

	// What php-fpm does at a graceful exit.
	if err := os.Remove(public); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", public); err == nil {
		t.Fatal("dial after unlink worked")
	}
	back, err := set.Relink()
	if err != nil || len(back) != 1 || back[0] != public {
		t.Fatalf("Relink = %v, %v; want %s back", back, err, public)
	}
	c, err := net.Dial("unix", public)
	if err != nil {
		t.Fatalf("dial after relink: %v", err)
	}
	// The connection waits in the held socket's backlog; accepting on the
	// held fd (what a started program does) takes it.
	files, err := set.Files()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.FileListener(files[0])
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	l.Close()
	c.Close()

	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{public, priv} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after Close: %v", p, err)
		}
	}
}

func TestRelinkLeavesAnotherFile(t *testing.T) {
	dir := t.TempDir()
	public := filepath.Join(dir, "php.sock")
	set, err := Bind(filepath.Join(dir, "held"), []Spec{{Address: mustParse(t, "unix://"+public), UID: -1, GID: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	os.Remove(public)
	// A program that bound its own socket there (php-fpm does when no
	// inherited socket matches its listen).
	l, err := net.Listen("unix", public)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := set.Relink(); err == nil || !strings.Contains(err.Error(), "another file") {
		t.Fatalf("Relink over another socket = %v, want an error", err)
	}
	set.Close()
	if _, err := os.Lstat(public); err != nil {
		t.Fatalf("Close removed a socket file that was not its own: %v", err)
	}
}

func TestBindClearsStaleSocketOnly(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the file stays, nobody listens: a stale socket

	live := filepath.Join(dir, "live.sock")
	ll, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)

	held := filepath.Join(dir, "held")
	set, err := Bind(held, []Spec{{Address: mustParse(t, "unix://"+stale), UID: -1, GID: -1}})
	if err != nil {
		t.Fatalf("Bind over a stale socket: %v", err)
	}
	set.Close()
	_, err = Bind(held, []Spec{
		{Address: mustParse(t, "unix://"+live), UID: -1, GID: -1},
		{Address: mustParse(t, "unix://"+plain), UID: -1, GID: -1},
		{Address: mustParse(t, "tcp://127.0.0.1:0"), UID: -1, GID: -1},
	})
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Bind = %v, want both the live socket and the plain file reported", err)
	}
	if _, err := os.Lstat(plain); err != nil {
		t.Fatalf("Bind removed a plain file: %v", err)
	}
}

func TestPrivatePathFallsBackBesideThePublicOne(t *testing.T) {
	// /proc is never on the same filesystem as a temp dir.
	dir := t.TempDir()
	got, err := privatePath("/proc/phpinit-no-such-dir", filepath.Join(dir, "php.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(dir, ".php.sock.held") {
		t.Fatalf("privatePath = %s", got)
	}
}

func TestFilesSetNonblockingAsAsked(t *testing.T) {
	set, err := Bind(t.TempDir(), []Spec{
		{Address: mustParse(t, "tcp://127.0.0.1:0"), UID: -1, GID: -1},
		{Address: mustParse(t, "tcp://127.0.0.1:0"), UID: -1, GID: -1, Nonblocking: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for round := range 2 {
		files, err := set.Files()
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{false, true} {
			// What exec does with ExtraFiles; it must not undo the flag.
			files[i].Fd()
			if got := nonblocking(t, set.held[i].fd); got != want {
				t.Errorf("round %d: socket %d O_NONBLOCK = %v, want %v", round, i, got, want)
			}
		}
		// A program that flips the flag on the shared file: the next
		// Files puts it back.
		unix.SetNonblock(set.held[0].fd, true)
		unix.SetNonblock(set.held[1].fd, false)
	}
}

func nonblocking(t *testing.T, fd int) bool {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.O_NONBLOCK != 0
}

func TestGuardRelinksOnlyWhileStopping(t *testing.T) {
	dir := t.TempDir()
	public := filepath.Join(dir, "pub", "a.sock")
	set, err := Bind(filepath.Join(dir, "held"), []Spec{{Address: mustParse(t, "unix://"+public), UID: -1, GID: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	ino := inode(t, public)
	removed := map[string]bool{public: true}

	// Not stopping: a path the program removed at its start (a held
	// socket no pool uses) stays removed.
	if err := os.Remove(public); err != nil {
		t.Fatal(err)
	}
	if back, err := set.relinkPaths(removed); err != nil || len(back) != 0 {
		t.Fatalf("relinkPaths while not stopping = %v, %v; want nothing", back, err)
	}
	if _, err := os.Lstat(public); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the path came back while not stopping: %v", err)
	}
	if _, err := set.Relink(); err != nil {
		t.Fatal(err)
	}

	// Stopping: the guard's goroutine puts it back as soon as it is gone.
	restored := guardReports(t, set)
	if err := set.Guard(func([]string, error) {}); err == nil {
		t.Error("a second Guard on the same set was accepted")
	}
	set.Stopping(true)
	if err := os.Remove(public); err != nil {
		t.Fatal(err)
	}
	select {
	case back := <-restored:
		if len(back) != 1 || back[0] != public {
			t.Fatalf("restored %v, want [%s]", back, public)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the guard did not restore the path")
	}
	if got := inode(t, public); got != ino {
		t.Fatalf("restored path is inode %d, want the held socket's %d", got, ino)
	}

	// Close stops the guard first: the paths it removes stay removed.
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(public); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Close the path is there: %v", err)
	}
}

// guardReports starts the set's guard; each report's restored paths come
// on the channel, and an error fails the test.
func guardReports(t *testing.T, set *Set) <-chan []string {
	t.Helper()
	restored := make(chan []string, 16)
	if err := set.Guard(func(back []string, err error) {
		if err != nil {
			t.Errorf("guard: %v", err)
		}
		restored <- back
	}); err != nil {
		t.Fatal(err)
	}
	return restored
}
