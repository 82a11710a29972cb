package supervisor

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/proc"
)

// Fork implements proc.Forker for short children started off the loop
// (exec probes): it forks on the loop, so a child that exits at once is
// registered before it can be reaped, and the reaper hands its status to
// wait (exec.Cmd.Wait would race the wait4(-1) loop for it). Safe from any
// goroutine but the loop's.
func (s *Supervisor) Fork(path string, argv []string, attr *proc.Attr) (int, func() (syscall.WaitStatus, error), error) {
	var pid int
	var wait func() (syscall.WaitStatus, error)
	var err error
	if derr := s.Do(context.Background(), func() {
		pid, wait, err = s.forkOnLoop(path, argv, attr)
	}); derr != nil {
		return 0, nil, derr
	}
	return pid, wait, err
}

// forkOnLoop is Fork for callers already on the loop (reload checks).
func (s *Supervisor) forkOnLoop(path string, argv []string, attr *proc.Attr) (int, func() (syscall.WaitStatus, error), error) {
	pid, err := proc.ForkExec(path, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	status := make(chan unix.WaitStatus, 1)
	s.probes[pid] = status
	wait := func() (syscall.WaitStatus, error) {
		select {
		case ws := <-status:
			return syscall.WaitStatus(ws), nil
		case <-s.quit:
			return 0, errors.New("phpinit stopped before the process ended")
		}
	}
	return pid, wait, nil
}

// runCheck starts the program's reload check from the loop and calls done
// on the loop once it has ended. The check gets the program's user and
// ambient capabilities: `nginx -t` binds the listen sockets, which fails on
// port 80 without NET_BIND_SERVICE.
func (s *Supervisor) runCheck(p *program, done func(proc.Result)) {
	spec := proc.Spec{
		Argv:        p.spec.Check,
		Env:         p.spec.Env,
		Dir:         p.spec.Dir,
		Credential:  p.spec.Credential,
		AmbientCaps: p.spec.AmbientCaps,
		Privileges:  p.spec.Privileges,
		Timeout:     checkTimeout,
		Forker:      proc.ForkerFunc(s.forkOnLoop),
	}
	if cred := p.spec.Credential; cred != nil {
		// php-fpm -t opens its error_log /proc/self/fd/2 by path, as the
		// program's user.
		spec.PreparePipe = func(w *os.File) error {
			if err := logsink.OpenableBy(w, cred.Uid); err != nil {
				p.log.Warn("check output may not be openable", "err", err)
			}
			return nil
		}
	}
	child, err := proc.Start(spec)
	if err != nil {
		done(proc.Result{Code: proc.StartCode(err), StartErr: err})
		return
	}
	go func() {
		res := child.Wait(context.Background())
		s.post(func() { done(res) })
	}()
}

// checkOutcome says how a check ended, with its output: "exit status 1:
// nginx: [emerg] ...".
func checkOutcome(r proc.Result) string {
	desc := r.Desc(checkTimeout)
	if r.TimedOut {
		desc = "timed out"
	}
	out := strings.TrimSpace(string(r.Output))
	if r.Truncated {
		out += "\n[output truncated]"
	}
	if out == "" || r.StartErr != nil {
		return desc
	}
	return desc + ": " + out
}
