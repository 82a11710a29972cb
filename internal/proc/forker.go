package proc

import (
	"errors"
	"syscall"
)

// Forker starts a process and learns how it ends.
//
// It exists because of who may wait for a child. phpinit's supervisor reaps
// every child with wait4(-1), and any other wait racing it (exec.Cmd.Wait,
// wait4(pid)) may find the child gone and lose its status (FIELD-NOTES;
// canonical/pebble#101). Under the supervisor the supervisor is the Forker:
// it forks on its loop, so a child that exits at once is registered before
// it can be reaped, and its reaper hands the status to wait.
//
// The signature has only standard library types, so the supervisor
// implements it without importing its users.
type Forker interface {
	// Fork starts path with argv and attr exactly as ForkExec does and
	// returns the pid. wait blocks until the process has been
	// reaped and returns its status; it is called once.
	Fork(path string, argv []string, attr *Attr) (pid int, wait func() (syscall.WaitStatus, error), err error)
}

// ForkerFunc adapts a function to Forker.
type ForkerFunc func(path string, argv []string, attr *Attr) (int, func() (syscall.WaitStatus, error), error)

// Fork calls f.
func (f ForkerFunc) Fork(path string, argv []string, attr *Attr) (int, func() (syscall.WaitStatus, error), error) {
	return f(path, argv, attr)
}

// SelfWait is the Forker for where no wait4(-1) reaper runs (hooks before
// the loop, a standalone `phpinit healthcheck`, tests): it waits for its own
// child with wait4(pid). Never use it where a reaper runs.
var SelfWait Forker = ForkerFunc(selfWait)

func selfWait(path string, argv []string, attr *Attr) (int, func() (syscall.WaitStatus, error), error) {
	pid, err := ForkExec(path, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	wait := func() (syscall.WaitStatus, error) {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if !errors.Is(err, syscall.EINTR) {
				return ws, err
			}
		}
	}
	return pid, wait, nil
}
