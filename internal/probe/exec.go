package probe

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/proc"
)

// execProber runs argv through internal/proc; exit status 0 passes. Its
// stdout and stderr are kept (the first few KiB) to say why it failed.
//
// Under phpinit's supervisor the Forker must be the supervisor: it reaps
// every child with wait4(-1), and a wait racing it loses statuses (see
// proc.Forker).
type execProber struct {
	argv    []string
	env     []string
	cred    *syscall.Credential
	priv    proc.Privileges
	timeout time.Duration
	forker  proc.Forker
}

func newExecProber(p Spec, timeout time.Duration) (*execProber, error) {
	if p.Exec[0] == "" {
		return nil, errors.New("cannot build probe: exec command is empty")
	}
	return &execProber{argv: p.Exec, env: p.Env, cred: p.Credential, priv: p.Privileges, timeout: timeout, forker: p.Forker}, nil
}

func (e *execProber) Probe(ctx context.Context) error {
	name := "exec " + e.argv[0]
	res := proc.Run(ctx, proc.Spec{
		Argv:       e.argv,
		Env:        e.env,
		Credential: e.cred,
		Privileges: e.priv,
		MaxOutput:  probeBodyLimit,
		Timeout:    e.timeout,
		Forker:     e.forker,
	})
	timedOut := res.TimedOut || res.Canceled
	switch {
	case res.StartErr != nil:
		return fmt.Errorf("%s: %w", name, res.StartErr)
	case timedOut && res.Err != nil:
		return fmt.Errorf("%s: timed out after %v: %w", name, e.timeout, res.Err)
	case timedOut:
		return probeFailure(fmt.Sprintf("%s: timed out after %v", name, e.timeout), res.Output)
	case res.Err != nil:
		return fmt.Errorf("%s: cannot learn exit status: %w", name, res.Err)
	case res.OK():
		return nil
	}
	return probeFailure(name+": "+probeDescribeWait(res.Status), res.Output)
}

// probeDescribeWait names a signal the way probe errors always have
// ("signal terminated").
func probeDescribeWait(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return proc.Describe(unix.WaitStatus(ws))
}
