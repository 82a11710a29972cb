package app

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// signals is phpinit's one signal subscription, made when `run` starts and
// kept until it returns: from the first instant no signal finds phpinit
// without a handler (a Go program dies of an unsubscribed TERM, and of a
// kill(2)-sent SEGV or ABRT), and none is lost between the hooks and the
// loop. During the hooks, watchHooks reads it; then the supervisor loop (or
// the one-off command's) gets the channel with whatever queued meanwhile.
type signals struct {
	c chan os.Signal
}

// subscribe subscribes to list. Caught, never ignored: an ignored
// disposition would survive exec into every child.
func subscribe(list []os.Signal) *signals {
	// Room for a burst; signal.Notify drops what does not fit, which for
	// SIGCHLD is harmless (the loop reaps everything it finds).
	s := &signals{c: make(chan os.Signal, 128)}
	signal.Notify(s.c, list...)
	return s
}

func (s *signals) stop() { signal.Stop(s.c) }

// watchHooks returns a context cancelled by a stop signal (TERM, INT,
// QUIT), which ends the hooks, and end, which stops watching and returns
// the stop signal seen, if any. Other signals are dropped (SIGCHLD: a hook
// is waited for by pid) or logged and dropped: nothing runs yet that they
// could be meant for. Signals after end stay queued for the loop.
func (s *signals) watchHooks(logger *slog.Logger) (context.Context, func() os.Signal) {
	ctx, cancel := context.WithCancel(context.Background())
	quit := make(chan struct{})
	result := make(chan os.Signal, 1)
	go func() {
		var stop os.Signal
		defer func() { result <- stop }()
		for {
			select {
			case <-quit:
				return
			case sig := <-s.c:
				switch sig {
				case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
					if stop == nil {
						stop = sig
						logger.Info("stop signal during the hooks: not starting", "signal", sigName(sig))
						cancel()
					}
				case syscall.SIGCHLD:
				default:
					logger.Info("ignoring signal during the hooks", "signal", sigName(sig))
				}
			}
		}
	}()
	return ctx, func() os.Signal {
		close(quit)
		cancel()
		return <-result
	}
}

// sigName is "TERM" for SIGTERM, as phpinit's log names signals.
func sigName(sig os.Signal) string {
	if n, ok := sig.(syscall.Signal); ok && unix.SignalName(n) != "" {
		return strings.TrimPrefix(unix.SignalName(n), "SIG")
	}
	return sig.String()
}
