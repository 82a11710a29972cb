package healthcheck

import (
	"context"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/supervisor"
)

// The real supervisor is a Source: /readyz follows its program from
// STARTING to ready, then to draining on stop; /healthz fails once its loop
// has ended.
func TestWithSupervisor(t *testing.T) {
	sup, err := supervisor.New(supervisor.Options{
		Programs: []supervisor.ProgramSpec{{
			Name:         "sleeper",
			Command:      []string{"sleep", "100"},
			Env:          os.Environ(),
			Critical:     true,
			StartSeconds: 100 * time.Millisecond,
			StopSignal:   syscall.SIGTERM,
			StopTimeout:  5 * time.Second,
			Stdout:       logsink.Spec{Program: "sleeper", Stream: "stdout", Mode: "inherit"},
			Stderr:       logsink.Spec{Program: "sleeper", Stream: "stderr", Mode: "inherit"},
		}},
		Drain: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newTestServer(t, ServerOptions{Source: sup}).Handler()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("supervisor did not stop")
		}
	})

	waitStatus(t, h, "/readyz", 200, "")
	if code, body := do(t, h, "GET", "/healthz"); code != 200 {
		t.Errorf("healthz %d %s", code, body)
	}
	mfs := parseMetrics(t, scrape(t, ServerOptions{Source: sup}))
	if v := value(t, mfs, "phpinit_program_up", map[string]string{"program": "sleeper"}); v != 1 {
		t.Errorf("program_up %v", v)
	}
	if v := value(t, mfs, "phpinit_program_memory_rss_bytes", map[string]string{"program": "sleeper"}); v <= 0 {
		t.Errorf("rss %v", v)
	}

	cancel()
	waitStatus(t, h, "/readyz", 503, "draining")
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not stop")
	}
	done <- 0 // for the cleanup
	code, body := do(t, h, "GET", "/healthz")
	if hb := decodeHealth(t, body); code != 503 || hb.Reason != "supervision loop not responding: phpinit is not running" {
		t.Errorf("healthz after the loop ended: %d %s", code, body)
	}
}

// waitStatus polls path until it answers code (and reason, if set).
func waitStatus(t *testing.T, h http.Handler, path string, code int, reason string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, body := do(t, h, "GET", path)
		if c == code && (reason == "" || decodeHealth(t, body).Reason == reason) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %s, want %d %q", path, c, body, code, reason)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
