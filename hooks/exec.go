package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/proc"
)

const (
	// exitTimeout is what timeout(1) returns for a command it killed.
	exitTimeout = 124
	// lingerTimeout is how long, after a hook's main process has exited, we
	// wait for its output pipes to reach EOF. A hook may legitimately leave a
	// daemon behind that inherited them; after this we stop waiting but keep
	// forwarding that output in the background rather than closing the pipes,
	// which would kill the daemon with SIGPIPE on its next write.
	lingerTimeout = time.Second
)

// run runs one hook to completion with its own process group, forwards its
// output, records its duration in res and returns an *Error if it failed, or
// an error wrapping ctx.Err() if ctx ended first.
func (r *runner) run(ctx context.Context, res *Result, hook string, args, env []string, extra []*os.File) error {
	log := r.log.With("hook", hook)
	log.Debug("hook starting")
	start := time.Now()
	// No wait4(-1) reaper runs yet, so the hook is waited for by pid
	// (proc.SelfWait). On timeout or cancellation its whole group is
	// killed, not just the main process: a shell hook's children (a
	// `sleep`, a curl) would otherwise outlive it and keep its pipes open.
	out := proc.Run(ctx, proc.Spec{
		Argv:          args,
		Env:           env,
		ExtraFiles:    extra,
		Stdout:        r.out.stdout,
		Stderr:        r.out.stderr,
		Timeout:       max(r.o.Timeout, 0),
		Linger:        lingerTimeout,
		KeepGroup:     true,
		ShellFallback: true,
	})
	elapsed := time.Since(start)
	if out.Lingering {
		log.Warn("hook exited but processes it started still hold its output; forwarding it in the background",
			"waited", lingerTimeout)
	}
	err := r.outcome(ctx, hook, out)
	res.Durations = append(res.Durations, HookDuration{Hook: hook, Duration: elapsed, Err: err})
	if err == nil {
		log.Info("hook done", "pid", out.PID, "duration", elapsed)
	}
	return err
}

// outcome turns a proc.Result into nil, an *Error, or an interruption.
func (r *runner) outcome(ctx context.Context, hook string, out proc.Result) error {
	switch {
	case out.StartErr != nil:
		return &Error{Hook: hook, Code: out.Code, Err: out.StartErr}
	case out.Canceled:
		return fmt.Errorf("hook %s interrupted: %w", hook, ctx.Err())
	case out.TimedOut:
		return &Error{Hook: hook, Code: exitTimeout, Err: fmt.Errorf("%w after %s", ErrTimeout, r.o.Timeout)}
	case out.Err != nil:
		return &Error{Hook: hook, Code: 1, Err: out.Err}
	case out.Code != 0:
		return &Error{Hook: hook, Code: out.Code, Err: errors.New(describeExit(out.Status))}
	}
	return nil
}

// describeExit words an exit the way hook errors always have ("exit status
// 3", "signal: killed").
func describeExit(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal: " + ws.Signal().String()
	}
	return proc.Describe(unix.WaitStatus(ws))
}
