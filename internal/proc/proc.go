// Package proc is the one way phpinit runs a short child: a reload check, an
// exec probe, a hook. The child runs in its own process group, as a user,
// with an environment and ambient capabilities; its output is read line by
// line; a deadline kills the group; and once the main process has exited,
// output is awaited only for a bounded time, so a descendant that escaped
// the group and holds the pipe never wedges the caller.
//
// proc never calls wait4(-1): the exit status comes from a Forker, which
// under the supervisor is its reaper.
package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// DefaultLinger is how long output is still read after the main process
	// exited when Spec.Linger is 0.
	DefaultLinger = 100 * time.Millisecond
	// DefaultMaxOutput bounds captured output when Spec.MaxOutput is 0.
	DefaultMaxOutput = 64 << 10
	// KillGrace is how long Wait waits, after SIGKILL to the group, for the
	// Forker to report the exit.
	KillGrace = time.Second
)

// Spec is one child to run.
type Spec struct {
	// Argv is the command; Argv[0] is looked up with LookPath.
	Argv []string
	// Env is the child's whole environment; its PATH is the one searched.
	Env []string
	// Dir is the working directory; "" is phpinit's.
	Dir string
	// Credential is the user and groups; nil keeps phpinit's.
	Credential *syscall.Credential
	// AmbientCaps are raised in the child (capabilities(7)).
	AmbientCaps []uintptr
	// Privileges limit the child's capability bounding set and set
	// no_new_privs; the zero value keeps phpinit's.
	Privileges Privileges
	// ExtraFiles become fd 3, 4, ... in the child: its only descriptors
	// besides 0-2 (see ForkExec).
	ExtraFiles []*os.File
	// Stdout and Stderr, when either is set, get the child's output, one
	// Write per line (see CopyLines); nil of the two discards. When both
	// are nil, stdout and stderr share one pipe whose output is captured,
	// in order, into Result.Output, up to MaxOutput bytes.
	Stdout, Stderr io.Writer
	// MaxOutput bounds Result.Output; 0 is DefaultMaxOutput.
	MaxOutput int
	// Timeout kills the process group after this long and sets
	// Result.TimedOut; 0 means no deadline but the context's.
	Timeout time.Duration
	// Linger is how long output is still awaited after the main process
	// exited; 0 is DefaultLinger. A captured pipe is then closed; forwarded
	// output (Stdout/Stderr) goes on in the background, since closing it
	// would kill a daemon the child left behind with SIGPIPE.
	Linger time.Duration
	// KeepGroup leaves what the child left in its process group running
	// once it exited (a hook may start a daemon); by default the group is
	// killed, which also closes the pipe for most stray descendants.
	KeepGroup bool
	// ShellFallback runs a file without a #! line with sh, as a shell's
	// execvp does on ENOEXEC.
	ShellFallback bool
	// PreparePipe, when set, is called with the write end of each output
	// pipe before the child starts (to let the child's user open it by
	// path).
	PreparePipe func(*os.File) error
	// Forker starts the child and learns its status; nil is SelfWait.
	Forker Forker
}

// Result is how a child ended.
type Result struct {
	// PID was the child's pid; 0 when it did not start.
	PID int
	// Status is the wait status; meaningful when Err and StartErr are nil.
	Status syscall.WaitStatus
	// Code follows the shell: the exit status, 128+N for signal N, 126 or
	// 127 when it could not start, -1 when its status is unknown.
	Code int
	// TimedOut: Spec.Timeout expired and the group was killed.
	TimedOut bool
	// Canceled: the context ended first and the group was killed.
	Canceled bool
	// Output is what was captured, as written, when capturing.
	Output []byte
	// Truncated: Output was cut at MaxOutput.
	Truncated bool
	// Lingering: the output was still open Linger after the exit.
	Lingering bool
	// StartErr is why it could not start (Code is 126 or 127).
	StartErr error
	// Err is why its exit status is unknown.
	Err error
}

// OK reports whether the child ran and exited 0.
func (r Result) OK() bool {
	return r.StartErr == nil && r.Err == nil && !r.TimedOut && !r.Canceled && r.Code == 0
}

// Desc says how it ended: "exit status 1", "signal killed", "timed out after 1s".
func (r Result) Desc(timeout time.Duration) string {
	switch {
	case r.StartErr != nil:
		return r.StartErr.Error()
	case r.TimedOut:
		return fmt.Sprintf("timed out after %v", timeout)
	case r.Canceled:
		return "canceled"
	case r.Err != nil:
		return "cannot learn exit status: " + r.Err.Error()
	}
	return Describe(unix.WaitStatus(r.Status))
}

// Child is a started child.
type Child struct {
	spec    Spec
	pid     int
	wait    func() (syscall.WaitStatus, error)
	outDone chan struct{}
	pipes   []*os.File // read ends, closed when capture ends
	// captureEnded: the capture is being cut short after its linger.
	captureEnded atomic.Bool
	capture      *capWriter
}

// PID is the child's pid, also its process group id.
func (c *Child) PID() int { return c.pid }

// Run starts s and waits for it; a start failure is in Result.StartErr.
func Run(ctx context.Context, s Spec) Result {
	c, err := Start(s)
	if err != nil {
		return Result{Code: StartCode(err), StartErr: err}
	}
	return c.Wait(ctx)
}

// Start looks up and starts the child. It returns once the child is forked
// (through Spec.Forker, so under the supervisor call it where the Forker
// may be called). The caller must call Wait.
func Start(s Spec) (*Child, error) {
	if len(s.Argv) == 0 {
		return nil, fmt.Errorf("cannot start: empty command: %w", ErrNotFound)
	}
	path, err := LookPath(s.Argv[0], s.Env, s.Dir)
	if err != nil {
		return nil, err
	}
	if s.Forker == nil {
		s.Forker = SelfWait
	}
	c := &Child{spec: s, outDone: make(chan struct{})}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	writers, err := c.openPipes()
	if err != nil {
		return nil, err
	}
	err = c.fork(path, s.Argv, devNull, writers)
	if errors.Is(err, syscall.ENOEXEC) && s.ShellFallback {
		if sh, lerr := LookPath("sh", s.Env, ""); lerr == nil {
			err = c.fork(sh, append([]string{sh, path}, s.Argv[1:]...), devNull, writers)
		}
	}
	// The child holds its own copies; ours must go or we never see EOF.
	for _, w := range writers {
		w.Close()
	}
	if err != nil {
		for _, r := range c.pipes {
			r.Close()
		}
		return nil, fmt.Errorf("cannot start %s: %w", path, err)
	}
	c.read()
	return c, nil
}

func (c *Child) fork(path string, argv []string, devNull *os.File, w []*os.File) error {
	files := []uintptr{devNull.Fd(), w[0].Fd(), w[len(w)-1].Fd()}
	for _, f := range c.spec.ExtraFiles {
		files = append(files, f.Fd())
	}
	attr := &Attr{
		ProcAttr: syscall.ProcAttr{
			Dir:   c.spec.Dir,
			Env:   c.spec.Env,
			Files: files,
			// Its own group, so that a timeout kills whatever it started.
			Sys: &syscall.SysProcAttr{Setpgid: true, Credential: c.spec.Credential, AmbientCaps: c.spec.AmbientCaps},
		},
		Privileges: c.spec.Privileges,
	}
	pid, wait, err := c.spec.Forker.Fork(path, argv, attr)
	if err != nil {
		return err
	}
	c.pid, c.wait = pid, wait
	return nil
}

// openPipes makes one pipe (capture) or two (forwarding) and returns their
// write ends; the read ends are in c.pipes.
func (c *Child) openPipes() ([]*os.File, error) {
	n := 2
	if c.spec.Stdout == nil && c.spec.Stderr == nil {
		n = 1
	}
	var writers []*os.File
	for range n {
		r, w, err := os.Pipe()
		if err == nil && c.spec.PreparePipe != nil {
			err = c.spec.PreparePipe(w)
		}
		if err != nil {
			for _, f := range append(writers, c.pipes...) {
				f.Close()
			}
			if r != nil {
				r.Close()
				w.Close()
			}
			return nil, fmt.Errorf("cannot create output pipe: %w", err)
		}
		c.pipes, writers = append(c.pipes, r), append(writers, w)
	}
	return writers, nil
}

// read copies the output until EOF (or until a capture is closed after the
// linger), then closes outDone.
func (c *Child) read() {
	var wg sync.WaitGroup
	if len(c.pipes) == 1 {
		c.capture = &capWriter{n: c.spec.MaxOutput}
		if c.capture.n <= 0 {
			c.capture.n = DefaultMaxOutput
		}
		wg.Go(func() { copyLines(c.capture, c.pipes[0], MaxLine, &c.captureEnded) })
	} else {
		for i, w := range []io.Writer{c.spec.Stdout, c.spec.Stderr} {
			if w == nil {
				w = io.Discard
			}
			r := c.pipes[i]
			wg.Go(func() {
				defer r.Close()
				CopyLines(w, r, MaxLine)
			})
		}
	}
	go func() {
		wg.Wait()
		close(c.outDone)
	}()
}

type exit struct {
	ws  syscall.WaitStatus
	err error
}

// Wait waits for the child to exit, killing its group at the deadline or
// when ctx ends, then awaits its output at most Spec.Linger.
func (c *Child) Wait(ctx context.Context) Result {
	dctx, cancel := ctx, context.CancelFunc(func() {})
	if c.spec.Timeout > 0 {
		dctx, cancel = context.WithTimeout(ctx, c.spec.Timeout)
	}
	defer cancel()
	exited := make(chan exit, 1)
	go func() {
		ws, err := c.wait()
		exited <- exit{ws, err}
	}()

	var res Result
	var e exit
	select {
	case e = <-exited:
	case <-dctx.Done():
		res.Canceled = ctx.Err() != nil
		res.TimedOut = !res.Canceled
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		t := time.NewTimer(KillGrace)
		select {
		case e = <-exited:
		case <-t.C:
			e.err = fmt.Errorf("pid %d did not exit after SIGKILL", c.pid)
		}
		t.Stop()
	}
	if !c.spec.KeepGroup || res.TimedOut || res.Canceled {
		// What the child left in its group goes too, so that the output
		// pipe closes. The group is empty once the leader is reaped unless
		// something lingers, and Linux does not reuse a pid that names a
		// live group.
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	}
	res.Lingering = !c.awaitOutput()
	res.PID, res.Status, res.Err, res.Code = c.pid, e.ws, e.err, -1
	if e.err == nil {
		res.Code = Code(unix.WaitStatus(e.ws))
	}
	if c.capture != nil {
		res.Output, res.Truncated = c.capture.buf, c.capture.truncated
	}
	return res
}

// awaitOutput waits at most Linger for the output to reach EOF and reports
// whether it did. A capture is then ended: pipes from os.Pipe are in the
// poller, so a read deadline ends the read even while an escaped
// descendant keeps the write end open.
func (c *Child) awaitOutput() bool {
	linger := c.spec.Linger
	if linger <= 0 {
		linger = DefaultLinger
	}
	t := time.NewTimer(linger)
	defer t.Stop()
	done := true
	select {
	case <-c.outDone:
	case <-t.C:
		done = false
	}
	if c.capture != nil {
		c.captureEnded.Store(true)
		_ = c.pipes[0].SetReadDeadline(time.Now())
		<-c.outDone
		c.pipes[0].Close()
	}
	return done
}
