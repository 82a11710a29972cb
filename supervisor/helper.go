package supervisor

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/supervisor/reaper"
)

// maxHelperOutput bounds what is kept of a check's output.
const maxHelperOutput = 64 << 10

// HelperResult is how a short-lived helper command (a reload check) ended.
type HelperResult struct {
	Code     int
	Desc     string
	Output   string
	TimedOut bool
	Err      error
}

// helperProc is a running helper. Its exit is learnt by the reaper like
// every other child's; exec.Cmd.Wait would race the wait4(-1) loop.
type helperProc struct {
	pid      int
	status   unix.WaitStatus
	exited   bool
	outDone  bool
	out      []byte
	timedOut bool
	done     func(HelperResult)
}

// runHelper starts argv in its own process group with output captured, and
// calls done on the loop when it has exited and its output is read.
// The helper gets the program's user and ambient capabilities: `nginx -t`
// binds the listen sockets, which fails on port 80 without NET_BIND_SERVICE.
func (s *Supervisor) runHelper(argv, env []string, dir string, cred *syscall.Credential, caps []uintptr, timeout time.Duration, done func(HelperResult)) {
	r, w, err := os.Pipe()
	if err != nil {
		done(HelperResult{Code: -1, Err: err})
		return
	}
	if cred != nil {
		// php-fpm -t opens its error_log /proc/self/fd/2 by path, as the
		// program's user.
		if err := logsink.OpenableBy(w, cred.Uid); err != nil {
			s.log.Warn("check output may not be openable", "err", err)
		}
	}
	pid, err := spawn(argv, env, dir, cred, caps, []uintptr{s.devNull.Fd(), w.Fd(), w.Fd()})
	w.Close()
	if err != nil {
		r.Close()
		done(HelperResult{Code: -1, Err: err})
		return
	}
	h := &helperProc{pid: pid, done: done}
	s.helpers[pid] = h
	go func() {
		var buf bytes.Buffer
		_, _ = io.Copy(&limitWriter{w: &buf, n: maxHelperOutput}, r)
		r.Close()
		s.post(func() {
			h.out, h.outDone = buf.Bytes(), true
			h.maybeFinish()
		})
	}()
	if timeout > 0 {
		time.AfterFunc(timeout, func() {
			s.post(func() {
				if !h.exited {
					h.timedOut = true
					_ = syscall.Kill(-pid, syscall.SIGKILL)
				}
			})
		})
	}
}

// helperExited is called by the reaper. Whatever the helper left in its
// group is killed, so its output pipe closes.
func (h *helperProc) helperExited(ws unix.WaitStatus) {
	h.exited, h.status = true, ws
	_ = syscall.Kill(-h.pid, syscall.SIGKILL)
	h.maybeFinish()
}

func (h *helperProc) maybeFinish() {
	if !h.exited || !h.outDone {
		return
	}
	res := HelperResult{
		Code:     reaper.StatusCode(h.status),
		Desc:     reaper.Describe(h.status),
		Output:   string(bytes.TrimSpace(h.out)),
		TimedOut: h.timedOut,
	}
	if h.timedOut {
		res.Desc = "timed out"
	}
	h.done(res)
}

// limitWriter keeps the first n bytes and discards the rest (still
// draining, so the helper never blocks on a full pipe).
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
		if l.n == 0 {
			_, _ = l.w.Write([]byte("\n[output truncated]"))
		}
	}
	return len(p), nil
}

func (r HelperResult) String() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	if r.Output == "" {
		return r.Desc
	}
	return fmt.Sprintf("%s: %s", r.Desc, r.Output)
}
