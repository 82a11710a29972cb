package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// echoOnce accepts one connection on ln, reads a line and writes it back.
func echoOnce(t *testing.T, ln net.Listener) {
	t.Helper()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		_, _ = c.Write(buf[:n])
	}()
}

func TestDialRawRoundTrip(t *testing.T) {
	unixLn, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unixLn.Close()
	tcpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcpLn.Close()
	for _, ln := range []net.Listener{unixLn, tcpLn} {
		echoOnce(t, ln)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := dialRaw(ctx, ln.Addr().Network(), ln.Addr().String())
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", ln.Addr(), err)
		}
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatalf("%s: write: %v", ln.Addr(), err)
		}
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "ping\n" {
			t.Errorf("%s: read %q, %v; want the echo and EOF", ln.Addr(), got, err)
		}
		c.Close()
	}
}

func TestDialRawFailures(t *testing.T) {
	ctx := context.Background()
	if _, err := dialRaw(ctx, "unix", filepath.Join(t.TempDir(), "none.sock")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing socket: %v, want ENOENT", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := dialRaw(ctx, "tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("closed port: %v, want ECONNREFUSED", err)
	}
	for _, a := range [][2]string{{"tcp", "localhost:80"}, {"unix", "@abstract"}, {"udp", "127.0.0.1:53"}} {
		if _, err := dialRaw(ctx, a[0], a[1]); !errors.Is(err, errNoRawDial) {
			t.Errorf("%s %s: %v, want errNoRawDial (net.Dialer does it)", a[0], a[1], err)
		}
	}
	if _, err := dialRaw(ctx, "unix", "/"+strings.Repeat("x", 200)); err == nil {
		t.Error("a unix path longer than sun_path must be an error")
	}
}

// A canceled context ends a read that waits for an answer.
func TestDialProbeCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			time.Sleep(time.Minute)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	conn, done, err := dialProbe(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	go cancel()
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("read returned no error after the context was canceled")
	}
}
