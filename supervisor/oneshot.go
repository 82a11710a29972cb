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

// forwardSignals are passed on to a one-off command, the way tini does.
// SIGCHLD is ours; SIGURG belongs to the Go runtime (preemption) and must
// never be forwarded.
var forwardSignals = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM,
	syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU,
	syscall.SIGPWR,
}

// RunCommand runs argv as the only child, forwards every signal to it, reaps
// orphans, and returns its exit status (128+N when it died of signal N; 127
// when it cannot be started). stdin, stdout and stderr are passed through.
func RunCommand(ctx context.Context, argv, env []string, logger *slog.Logger) int {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGCHLD}, forwardSignals...)...)
	defer signal.Stop(sigs)
	if err := reaper.BecomeSubreaper(); err != nil {
		logger.Warn("orphans will not be reaped", "err", err)
	}
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
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   sys,
	})
	if err != nil {
		logger.Error("cannot run command", "command", path, "err", err)
		return 126
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
