package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
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
	hctx, cancel := ctx, context.CancelFunc(func() {})
	if r.o.Timeout > 0 {
		hctx, cancel = context.WithTimeout(ctx, r.o.Timeout)
	}
	defer cancel()

	log := r.log.With("hook", hook)
	log.Debug("hook starting")
	start := time.Now()
	cmd, done, err := r.start(args, env, extra)
	if err != nil {
		he := &Error{Hook: hook, Code: startErrorCode(err), Err: err}
		res.Durations = append(res.Durations, HookDuration{Hook: hook, Duration: time.Since(start), Err: he})
		return he
	}
	// Kill the whole group, not just the main process: a shell hook's
	// children (a `sleep`, a curl) would otherwise outlive it and keep its
	// pipes open. Setpgid makes pgid == pid.
	pid := cmd.Process.Pid
	stop := context.AfterFunc(hctx, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	waitErr := cmd.Wait()
	stop()
	elapsed := time.Since(start)
	r.linger(log, done)

	err = r.outcome(ctx, hctx, hook, waitErr)
	res.Durations = append(res.Durations, HookDuration{Hook: hook, Duration: elapsed, Err: err})
	if err == nil {
		log.Info("hook done", "pid", pid, "duration", elapsed)
	}
	return err
}

// start starts args[0] with stdout and stderr on pipes of ours, and returns
// a channel closed once both pipes reach EOF and every line is written.
func (r *runner) start(args, env []string, extra []*os.File) (*exec.Cmd, <-chan struct{}, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, nil, fmt.Errorf("cannot create pipe: %w", err)
	}
	cmd := r.command(args, env, extra, outW, errW)
	err = cmd.Start()
	if errors.Is(err, syscall.ENOEXEC) {
		// No #! line: run it with sh, as a shell's execvp would.
		if sh, lerr := exec.LookPath("sh"); lerr == nil {
			cmd = r.command(append([]string{sh}, args...), env, extra, outW, errW)
			err = cmd.Start()
		}
	}
	// The child holds its own copies; ours must go or we never see EOF.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, nil, err
	}
	return cmd, r.out.forward(outR, errR), nil
}

func (r *runner) command(args, env []string, extra []*os.File, stdout, stderr *os.File) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// linger waits for the output forwarders, at most lingerTimeout.
func (r *runner) linger(log *slog.Logger, done <-chan struct{}) {
	t := time.NewTimer(lingerTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		log.Warn("hook exited but processes it started still hold its output; forwarding it in the background",
			"waited", lingerTimeout)
	}
}

// outcome turns the result of Wait into nil, an *Error, or an interruption.
func (r *runner) outcome(ctx, hctx context.Context, hook string, waitErr error) error {
	if waitErr == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hook %s interrupted: %w", hook, err)
	}
	if hctx.Err() != nil {
		return &Error{Hook: hook, Code: exitTimeout, Err: fmt.Errorf("%w after %s", ErrTimeout, r.o.Timeout)}
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		return &Error{Hook: hook, Code: exitCode(ee.ProcessState), Err: ee}
	}
	return &Error{Hook: hook, Code: 1, Err: waitErr}
}

// exitCode follows the shell: 128+N for a process killed by signal N.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// startErrorCode follows the shell: 127 for a missing file, else 126.
func startErrorCode(err error) int {
	if errors.Is(err, os.ErrNotExist) {
		return 127
	}
	return 126
}
