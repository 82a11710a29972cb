package app

import (
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"
)

// During the hooks a stop signal cancels them and is reported; others are
// dropped; what comes after the watch ends stays queued for the loop.
func TestWatchHooks(t *testing.T) {
	s := &signals{c: make(chan os.Signal, 8)}
	ctx, end := s.watchHooks(slog.New(slog.DiscardHandler))
	s.c <- syscall.SIGHUP
	s.c <- syscall.SIGCHLD
	s.c <- syscall.SIGTERM
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("TERM did not cancel the hooks")
	}
	if got := end(); got != syscall.SIGTERM {
		t.Errorf("end() = %v, want SIGTERM", got)
	}

	ctx, end = s.watchHooks(slog.New(slog.DiscardHandler))
	s.c <- syscall.SIGUSR1
	for len(s.c) > 0 {
		time.Sleep(time.Millisecond) // until the watch has taken it
	}
	if got := end(); got != nil || ctx.Err() == nil {
		t.Errorf("end() = %v, ctx %v; want nil and a finished context", got, ctx.Err())
	}
	s.c <- syscall.SIGTERM
	if got := <-s.c; got != syscall.SIGTERM {
		t.Errorf("after the watch: %v queued, want SIGTERM", got)
	}
}
