package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/supervisor"
)

const (
	// probeKillGrace is how long a probe waits, after SIGKILL to its
	// process group, for the runner to report the exit.
	probeKillGrace = time.Second
	// probeOutputGrace is how long output is still read after the process
	// exited, in case something that escaped its group holds the pipe.
	probeOutputGrace = 100 * time.Millisecond
)

// ProbeRunner starts the processes of exec probes and learns how they end.
//
// It exists because of who may wait for a child. phpinit's supervisor reaps
// every child with wait4(-1), and any other wait racing it (exec.Cmd.Wait,
// wait4(pid)) may find the child gone and lose its status (FIELD-NOTES;
// canonical/pebble#101). Under the supervisor the supervisor must therefore
// be the runner: it forks on its loop, so a probe that exits at once is
// registered before it can be reaped, and its reaper hands the status to
// wait. The prober keeps the policy: it resolves argv[0], sets up the
// process group, user and output, and on timeout kills the group.
//
// The signature has only standard library types, so the supervisor can
// implement it without importing this package. Without WithProbeRunner
// NewProber uses a runner that calls wait4 on the pid itself: right for
// tests and for a standalone `phpinit healthcheck`, wrong under the
// supervisor.
type ProbeRunner interface {
	// StartProbe starts path with argv and attr exactly as
	// syscall.ForkExec does (attr sets Setpgid, the credential and the
	// files), and returns the pid. wait blocks until the process has been
	// reaped and returns its status; it is called once.
	StartProbe(path string, argv []string, attr *syscall.ProcAttr) (pid int, wait func() (syscall.WaitStatus, error), err error)
}

// ProbeRunnerFunc adapts a function to ProbeRunner.
type ProbeRunnerFunc func(path string, argv []string, attr *syscall.ProcAttr) (int, func() (syscall.WaitStatus, error), error)

// StartProbe calls f.
func (f ProbeRunnerFunc) StartProbe(path string, argv []string, attr *syscall.ProcAttr) (int, func() (syscall.WaitStatus, error), error) {
	return f(path, argv, attr)
}

// selfWaitRunner is the default ProbeRunner: it waits for its own child with
// wait4(pid). Never use it where a wait4(-1) reaper runs.
type selfWaitRunner struct{}

func (selfWaitRunner) StartProbe(path string, argv []string, attr *syscall.ProcAttr) (int, func() (syscall.WaitStatus, error), error) {
	pid, err := syscall.ForkExec(path, argv, attr)
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

// execProber runs argv; exit status 0 passes. Its stdout and stderr are
// kept (the first few KiB) to say why it failed.
type execProber struct {
	argv    []string
	env     []string
	cred    *syscall.Credential
	timeout time.Duration
	runner  ProbeRunner
}

func newExecProber(p *config.Probe, env []string, cred *syscall.Credential, timeout time.Duration, runner ProbeRunner) (*execProber, error) {
	if p.Exec[0] == "" {
		return nil, errors.New("cannot build probe: exec command is empty")
	}
	return &execProber{argv: p.Exec, env: env, cred: cred, timeout: timeout, runner: runner}, nil
}

type probeExit struct {
	status syscall.WaitStatus
	err    error
}

func (e *execProber) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	name := "exec " + e.argv[0]
	pid, wait, output, err := e.start()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	exited := make(chan probeExit, 1)
	go func() {
		ws, err := wait()
		exited <- probeExit{ws, err}
	}()

	var res probeExit
	timedOut := false
	select {
	case res = <-exited:
	case <-ctx.Done():
		timedOut = true
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		select {
		case res = <-exited:
		case <-time.After(probeKillGrace):
			res.err = fmt.Errorf("pid %d did not exit after SIGKILL", pid)
		}
	}
	// What the command left in its group goes too, so that the output pipe
	// closes. The group is empty once the leader is reaped unless something
	// lingers, and Linux does not reuse a pid that names a live group.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	out := output()

	switch {
	case timedOut && res.err != nil:
		return fmt.Errorf("%s: timed out after %v: %w", name, e.timeout, res.err)
	case timedOut:
		return probeFailure(fmt.Sprintf("%s: timed out after %v", name, e.timeout), out)
	case res.err != nil:
		return fmt.Errorf("%s: cannot learn exit status: %w", name, res.err)
	case res.status.Exited() && res.status.ExitStatus() == 0:
		return nil
	}
	return probeFailure(name+": "+probeDescribeWait(res.status), out)
}

// start resolves argv[0], starts the command through the runner with
// stdin on /dev/null and stdout and stderr on a pipe, and returns output,
// which reads that pipe (call it once the process has exited).
func (e *execProber) start() (pid int, wait func() (syscall.WaitStatus, error), output func() []byte, err error) {
	path, err := supervisor.LookPath(e.argv[0], e.env)
	if err != nil {
		return 0, nil, nil, err
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, nil, err
	}
	defer devNull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, err
	}
	attr := &syscall.ProcAttr{
		Env:   e.env,
		Files: []uintptr{devNull.Fd(), w.Fd(), w.Fd()},
		// Its own group, so that a timeout kills whatever it started.
		Sys: &syscall.SysProcAttr{Setpgid: true, Credential: e.cred},
	}
	pid, wait, err = e.runner.StartProbe(path, e.argv, attr)
	w.Close()
	if err != nil {
		r.Close()
		return 0, nil, nil, fmt.Errorf("cannot start %s: %w", path, err)
	}
	read := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		_, _ = io.Copy(&buf, io.LimitReader(r, probeBodyLimit))
		_, _ = io.Copy(io.Discard, r) // never block the writer
		read <- buf.Bytes()
	}()
	output = func() []byte {
		// Pipes from os.Pipe are in the poller, so a deadline ends the read
		// even when an escaped descendant keeps the write end open.
		_ = r.SetReadDeadline(time.Now().Add(probeOutputGrace))
		out := <-read
		r.Close()
		return out
	}
	return pid, wait, output, nil
}

func probeDescribeWait(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal " + ws.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}
