package supervisor

import (
	"context"
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// StartProbe forks an exec probe on the loop and returns a wait that gets
// its status from the reaper: exec.Cmd.Wait would race the wait4(-1) loop
// for it. Forking on the loop also means a probe that exits at once is
// registered before it can be reaped. Safe from any goroutine.
func (s *Supervisor) StartProbe(path string, argv []string, attr *syscall.ProcAttr) (int, func() (syscall.WaitStatus, error), error) {
	var pid int
	var err error
	status := make(chan unix.WaitStatus, 1)
	if derr := s.Do(context.Background(), func() {
		pid, err = syscall.ForkExec(path, argv, attr)
		if err == nil {
			s.probes[pid] = status
		}
	}); derr != nil {
		return 0, nil, derr
	}
	if err != nil {
		return 0, nil, err
	}
	wait := func() (syscall.WaitStatus, error) {
		select {
		case ws := <-status:
			return syscall.WaitStatus(ws), nil
		case <-s.quit:
			return 0, errors.New("phpinit stopped before the probe ended")
		}
	}
	return pid, wait, nil
}
