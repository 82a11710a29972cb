package logsink

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests; nothing should come close.
const testTimeout = 30 * time.Second

// recorder is a destination that keeps every Write call apart and notices
// two Writes running at once.
type recorder struct {
	inFlight atomic.Int32
	overlap  atomic.Bool

	mu     sync.Mutex
	writes [][]byte
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.inFlight.Add(1) > 1 {
		r.overlap.Store(true)
	}
	defer r.inFlight.Add(-1)
	r.mu.Lock()
	r.writes = append(r.writes, bytes.Clone(p))
	r.mu.Unlock()
	return len(p), nil
}

func (r *recorder) Writes() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.writes)
}

func (r *recorder) String() string { return string(bytes.Join(r.Writes(), nil)) }

// gate is a destination whose Writes block until it is opened: a stalled
// destination the test can unstall.
type gate struct {
	open chan struct{}
	recorder
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	return g.recorder.Write(p)
}

// logCapture is a slog.Handler that hands each message to the test.
type logCapture struct {
	msgs chan string
}

func newLogCapture() *logCapture { return &logCapture{msgs: make(chan string, 1000)} }

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	select {
	case l.msgs <- r.Message:
	default:
	}
	return nil
}

// wait returns the first message containing want.
func (l *logCapture) wait(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case m := <-l.msgs:
			if strings.Contains(m, want) {
				return m
			}
		case <-timeout:
			t.Fatalf("no log message containing %q", want)
		}
	}
}

// newTestHub returns a hub whose piped sinks write to recorders.
func newTestHub(t *testing.T) (*Hub, *recorder, *recorder, *logCapture) {
	t.Helper()
	out, errs, logs := new(recorder), new(recorder), newLogCapture()
	return newHub(os.Stdout, os.Stderr, out, errs, slog.New(logs)), out, errs, logs
}

func open(t *testing.T, h *Hub, s Spec) *Sink {
	t.Helper()
	sink, err := h.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close(0) })
	return sink
}

func closeSink(t *testing.T, s *Sink) {
	t.Helper()
	if err := s.Close(testTimeout); err != nil {
		t.Fatal(err)
	}
}

// run runs a shell script with its stdout and stderr on the given sinks (nil:
// /dev/null) and waits for it.
func run(t *testing.T, stdout, stderr *Sink, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
	if stdout != nil {
		cmd.Stdout = stdout.File()
	}
	if stderr != nil {
		cmd.Stderr = stderr.File()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
	case <-time.After(testTimeout):
		_ = cmd.Process.Kill()
		t.Fatalf("%s: still running after %s: the sink blocks it", script, testTimeout)
	}
}
