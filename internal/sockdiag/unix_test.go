package sockdiag

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// listenUnix binds a real listening socket and returns it with its path.
func listenUnix(t *testing.T) (*net.UnixListener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func TestUnixListenQueueCountsUnaccepted(t *testing.T) {
	_, path := listenUnix(t)
	q, err := UnixListenQueue(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Pending != 0 || q.Backlog == 0 {
		t.Fatalf("fresh listener: %+v, want 0 pending and a backlog", q)
	}
	// A unix connect completes at once (the kernel queues it); nobody
	// accepts, so it stays in the queue.
	for want := uint32(1); want <= 2; want++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		q, err = UnixListenQueue(path)
		if err != nil {
			t.Fatal(err)
		}
		if q.Pending != want {
			t.Fatalf("after %d unaccepted connects: %+v", want, q)
		}
	}
}

func TestUnixListenQueueMatchesTheBoundFile(t *testing.T) {
	old, path := listenUnix(t)
	old.SetUnlinkOnClose(false)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A new socket bound at the same name after the file was removed:
	// the old one (queue 1) is still bound to the name, but not to the file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	q, err := UnixListenQueue(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Pending != 0 {
		t.Fatalf("queue %+v: the stale socket's queue was taken", q)
	}
}

func TestUnixListenQueueNotFound(t *testing.T) {
	_, err := UnixListenQueue(filepath.Join(t.TempDir(), "none.sock"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
}

func TestParseUnixDiagMsgShort(t *testing.T) {
	if _, ok := parseUnixDiagMsg(make([]byte, 3)); ok {
		t.Fatal("short message parsed")
	}
	// A listening header whose attribute length runs past the end.
	b := make([]byte, msgLen+4)
	b[2] = tcpListen
	b[msgLen] = 200
	if l, ok := parseUnixDiagMsg(b); !ok || l.name != "" {
		t.Fatalf("bad attribute: %+v %v", l, ok)
	}
}
