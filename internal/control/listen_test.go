package control

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenCreatesPrivateSocket(t *testing.T) {
	dir := filepath.Join(shortDir(t), "run", "phpinit")
	path := filepath.Join(dir, "phpinit.sock")
	l, err := Listen(path, slogTo(&syncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want socket 0600", fi.Mode())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	// MkdirAll applies the umask, which may only remove bits.
	if perm := di.Mode().Perm(); perm&^0o700 != 0 {
		t.Errorf("dir mode = %v, want at most 0700", perm)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after Close: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "phpinit.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	// What a killed phpinit leaves: the file, with nobody listening.
	old.SetUnlinkOnClose(false)
	_ = old.Close()

	log := &syncBuffer{}
	l, err := Listen(path, slogTo(log))
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer func() { _ = l.Close() }()
	if !strings.Contains(log.String(), "removed stale control socket") {
		t.Errorf("replacement not logged:\n%s", log)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("new socket does not answer: %v", err)
	}
	_ = c.Close()
}

func TestListenRefusesLiveSocket(t *testing.T) {
	ts := startServer(t, 0)
	_, err := Listen(ts.socket, slogTo(&syncBuffer{}))
	if err == nil || err.Error() != "another phpinit is serving "+ts.socket {
		t.Fatalf("Listen on a live socket = %v, want another phpinit is serving", err)
	}
	// The first server is untouched.
	stillServes(t, ts)
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "phpinit.sock")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(path, slogTo(&syncBuffer{}))
	if err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Fatalf("Listen = %v, want not a socket", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Error("the file was replaced")
	}
}

func TestClientUnreachable(t *testing.T) {
	dir := shortDir(t)
	missing := filepath.Join(dir, "missing.sock")
	_, err := NewClient(missing).Status(context.Background())
	wantUnreachable(t, err, "cannot reach phpinit at "+missing+": no such file (is phpinit running?)")

	stale := filepath.Join(dir, "stale.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	_ = old.Close()
	err = NewClient(stale).Do(context.Background(), "start", "nginx")
	wantUnreachable(t, err, "cannot reach phpinit at "+stale+": connection refused (is phpinit running?)")
}

func wantUnreachable(t *testing.T, err error, msg string) {
	t.Helper()
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("error = %v (%T), want *UnreachableError", err, err)
	}
	if err.Error() != msg {
		t.Errorf("error = %q, want %q", err, msg)
	}
}
