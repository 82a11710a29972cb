package supervisor

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/supervisor/reaper"
)

// Command is a one-off command: phpinit's only child.
type Command struct {
	Argv, Env []string
	// Logger receives phpinit's own log; nil discards.
	Logger *slog.Logger
	// Signals is phpinit's subscription to OneShotSignals, made at its
	// start; what queued in it is forwarded once the command runs. Nil:
	// RunCommand subscribes itself.
	Signals <-chan os.Signal
	// Files are the command's descriptors (see proc.ForkExec); nil is 0, 1
	// and 2.
	Files []uintptr
}

// RunCommand runs the command as the only child, forwards every signal of
// ForwardSignals to it, reaps orphans, and returns its exit status (128+N
// when it died of signal N; 126 when it cannot be executed, 127 when it is
// not found). It keeps phpinit's user and privileges.
func RunCommand(ctx context.Context, c Command) int {
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sigs := c.Signals
	if sigs == nil {
		own := make(chan os.Signal, 64)
		signal.Notify(own, OneShotSignals()...)
		defer signal.Stop(own)
		sigs = own
	}
	if c.Files == nil {
		c.Files = []uintptr{0, 1, 2}
	}
	if err := reaper.BecomeSubreaper(); err != nil {
		logger.Warn("orphans will not be reaped", "err", err)
	}
	argv, env := c.Argv, c.Env
	path, err := proc.LookPath(argv[0], env, "")
	if err != nil {
		logger.Error("cannot run command", "err", err)
		return proc.StartCode(err)
	}
	sys := &syscall.SysProcAttr{Setpgid: true}
	if foregroundTTY() {
		// Give the terminal to the command so Ctrl-C and job control reach
		// it directly (tini does the same with tcsetpgrp).
		sys.Foreground, sys.Ctty = true, 0
	}
	pid, err := proc.ForkExec(path, argv, &proc.Attr{ProcAttr: syscall.ProcAttr{
		Env:   env,
		Files: c.Files,
		Sys:   sys,
	}})
	if err != nil {
		// Found but execve failed (a bad #! interpreter, ENOEXEC): 126,
		// as bash says.
		logger.Error("cannot run command", "command", path, "err", err)
		return proc.CodeNotExecutable
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	done := ctx.Done()
	code := -1
	for code < 0 {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGCHLD {
				code = reapFor(pid)
				continue
			}
			_ = syscall.Kill(pid, sig.(syscall.Signal))
		case <-tick.C:
			code = reapFor(pid)
		case <-done:
			done = nil
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	return code
}

// reapFor reaps every exited child and returns pid's status, or -1 while it runs.
func reapFor(pid int) int {
	code := -1
	reaper.Reap(func(e reaper.Exit) {
		if e.PID == pid {
			code = e.Code()
		}
	})
	return code
}

func foregroundTTY() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
