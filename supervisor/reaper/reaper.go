// Package reaper is the only code in phpinit that calls wait4. Keeping every
// wait in one place is what makes exit statuses reliable: a wait4(-1) loop
// and exec.Cmd.Wait racing for the same child lose statuses
// (ramr/go-reaper#2, canonical/pebble#101).
package reaper

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/proc"
)

// Exit is one reaped child.
type Exit struct {
	PID    int
	Status unix.WaitStatus
}

// Code is the exit status the way a shell reports it: the exit code, or
// 128+N when the process died of signal N.
func (e Exit) Code() int { return proc.Code(e.Status) }

// Reap collects every child that has exited, without blocking, and calls fn
// for each. SIGCHLDs coalesce (signal(7)), so one notification may stand for
// many exits: loop until wait4 says nothing is left (0 or ECHILD).
func Reap(fn func(Exit)) int {
	n := 0
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return n
		}
		n++
		fn(Exit{PID: pid, Status: ws})
	}
}

// BecomeSubreaper makes orphaned descendants reparent to this process when
// it is not PID 1 (tests, Kubernetes shareProcessNamespace), see
// prctl(2) PR_SET_CHILD_SUBREAPER. As PID 1 it is a no-op.
func BecomeSubreaper() error {
	if os.Getpid() == 1 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("cannot become child subreaper: %w", err)
	}
	return nil
}

// GroupAlive reports whether any process (zombies included) is left in
// process group pgid.
func GroupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	err := unix.Kill(-pgid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
