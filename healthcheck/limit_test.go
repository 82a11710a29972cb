package healthcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func startLimited(t *testing.T, o ServerOptions) *Server {
	t.Helper()
	o.Listen = "127.0.0.1:0"
	s := newTestServer(t, o)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// getOnce sends one request on a fresh connection.
func getOnce(addr, path string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Idle connections beyond the limit never pile up: each new one replaces
// the longest idle, and a fresh request is answered during the flood.
func TestConnLimitEvictsIdle(t *testing.T) {
	const max = 4
	s := startLimited(t, ServerOptions{Source: newFakeSource(readySnapshot()), MaxConnections: max})
	addr := s.Addr().String()
	var idle []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		defer c.Close()
	}
	// A connection only counts once the server accepted it: wait for the
	// last ones, then every earlier one has been closed by the server.
	waitFor(t, "server closes all but the newest idle connections", func() bool {
		return s.limit.dropped.Load() >= 50-max && s.limit.open() <= max
	})
	if code, err := getOnce(addr, "/readyz"); err != nil || code != 200 {
		t.Fatalf("/readyz during the flood: %d %v", code, err)
	}
	if n := s.limit.open(); n > max {
		t.Errorf("%d connections open, limit %d", n, max)
	}
	// The oldest idle ones were closed by the server.
	_ = idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("oldest idle connection: read %v, want EOF", err)
	}
}

// With every slot busy in a request, a new connection is closed at once
// instead of taking another descriptor.
func TestConnLimitRejectsWhenAllBusy(t *testing.T) {
	const max = 2
	release := make(chan struct{})
	src := newFakeSource(readySnapshot())
	src.ping = func(ctx context.Context) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}
	s := startLimited(t, ServerOptions{Source: src, MaxConnections: max})
	addr := s.Addr().String()
	done := make(chan error, max)
	for range max {
		go func() { _, err := getOnce(addr, "/healthz"); done <- err }()
	}
	waitFor(t, "two requests in flight", func() bool {
		s.limit.mu.Lock()
		defer s.limit.mu.Unlock()
		busy := 0
		for _, in := range s.limit.conns {
			if in.state == http.StateActive {
				busy++
			}
		}
		return busy == max
	})
	if code, err := getOnce(addr, "/readyz"); err == nil {
		t.Errorf("a third connection was served (%d) with %d busy", code, max)
	}
	if s.limit.dropped.Load() == 0 {
		t.Error("no connection counted as dropped")
	}
	close(release)
	for range max {
		if err := <-done; err != nil {
			t.Errorf("busy request: %v", err)
		}
	}
	if code, err := getOnce(addr, "/readyz"); err != nil || code != 200 {
		t.Errorf("/readyz after the busy ones ended: %d %v", code, err)
	}
}

func TestCapMaxConnections(t *testing.T) {
	if n := capMaxConnections(0); n != min(DefaultMaxConnections, n) || n < 1 {
		t.Errorf("capMaxConnections(0) = %d", n)
	}
	if n := capMaxConnections(1 << 40); n > 1<<20 {
		t.Errorf("capMaxConnections(huge) = %d, want at most a quarter of RLIMIT_NOFILE", n)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
