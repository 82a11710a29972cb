package control

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// fakeSup records calls and answers as told.
type fakeSup struct {
	mu    sync.Mutex
	calls []string
	err   error
	// block makes operations wait for their ctx.
	block bool
	// entered receives one value per operation that started blocking.
	entered chan struct{}
	snap    *supervisor.Snapshot
}

func newFake() *fakeSup {
	return &fakeSup{
		entered: make(chan struct{}, 16),
		snap: &supervisor.Snapshot{
			Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			Programs: []supervisor.ProgramStatus{
				{Name: "php-fpm", State: "RUNNING", PID: 41, Critical: true, Ready: true},
				{Name: "nginx", State: "RUNNING", PID: 42, Critical: true, Ready: true},
			},
		},
	}
}

func (f *fakeSup) set(err error, block bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.block = err, block
}

func (f *fakeSup) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeSup) Snapshot() *supervisor.Snapshot { return f.snap }

func (f *fakeSup) op(ctx context.Context, call, name string) error {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	err, block := f.err, f.block
	f.mu.Unlock()
	if name != "all" && name != "nginx" && name != "php-fpm" {
		return fmt.Errorf("%w: %q", supervisor.ErrUnknownProgram, name)
	}
	if block {
		f.entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeSup) Start(ctx context.Context, name string) error {
	return f.op(ctx, "start "+name, name)
}

func (f *fakeSup) Stop(ctx context.Context, name string) error {
	return f.op(ctx, "stop "+name, name)
}

func (f *fakeSup) Restart(ctx context.Context, name string) error {
	return f.op(ctx, "restart "+name, name)
}

func (f *fakeSup) Reload(ctx context.Context, name string) error {
	return f.op(ctx, "reload "+name, name)
}

func (f *fakeSup) Signal(ctx context.Context, name string, sig syscall.Signal) error {
	return f.op(ctx, fmt.Sprintf("signal %s %d", name, int(sig)), name)
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// shortDir is a temporary directory with a short path: sun_path holds 108
// bytes (unix(7)), which t.TempDir's long names can exceed.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

type testServer struct {
	socket string
	sup    *fakeSup
	srv    *Server
	log    *syncBuffer
	client *Client
}

// startServer serves a fake supervisor on a fresh socket; opTimeout 0
// means OpTimeout.
func startServer(t *testing.T, opTimeout time.Duration) *testServer {
	t.Helper()
	return serveFake(t, filepath.Join(shortDir(t), "run", "phpinit.sock"), opTimeout)
}

// startServerAt serves a fake supervisor on socket.
func startServerAt(t *testing.T, socket string) *testServer {
	t.Helper()
	return serveFake(t, socket, 0)
}

func serveFake(t *testing.T, socket string, opTimeout time.Duration) *testServer {
	t.Helper()
	if opTimeout == 0 {
		opTimeout = OpTimeout
	}
	ts := &testServer{socket: socket, sup: newFake(), log: &syncBuffer{}}
	logger := slogTo(ts.log)
	l, err := Listen(ts.socket, logger)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = serve(l, &handler{sup: ts.sup, log: logger, euid: os.Geteuid(), opTimeout: opTimeout})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ts.srv.Close(ctx)
	})
	ts.client = NewClient(ts.socket)
	return ts
}

func slogTo(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
