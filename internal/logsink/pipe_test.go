package logsink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestLongLineWithoutNewlineIsOneWrite(t *testing.T) {
	h, out, _, _ := newTestHub(t)
	s := open(t, h, Spec{Program: "p", Stream: "stdout", Mode: "prefix"})
	run(t, s, nil, `head -c 1048576 /dev/zero | tr '\000' x`)
	closeSink(t, s)

	writes := out.Writes()
	want := "p | " + strings.Repeat("x", 1<<20) + "\n"
	if len(writes) != 1 || string(writes[0]) != want {
		t.Fatalf("got %d writes of %d bytes in all, want one of %d", len(writes), len(out.String()), len(want))
	}
}

func TestLineOverLimitIsSplitAndCounted(t *testing.T) {
	h, out, _, logs := newTestHub(t)
	s := open(t, h, Spec{Program: "p", Stream: "stdout", Mode: "prefix"})
	run(t, s, nil, `head -c $((4194304 + 5)) /dev/zero | tr '\000' x; echo; echo tail`)
	closeSink(t, s)

	want := "p | " + strings.Repeat("x", lineLimit) + "\np | xxxxx\np | tail\n"
	if got := out.String(); got != want {
		t.Errorf("got %d bytes, want %d: the line is not cut at %d bytes", len(got), len(want), lineLimit)
	}
	if got := h.Split(); len(got) != 1 || got[0].Lines != 1 {
		t.Errorf("Split() = %v, want one split", got)
	}
	logs.wait(t, "split a line longer than 4194304 bytes from p stdout")
}

// TestLinesNeverInterleave writes from two sinks into one destination, with
// lines far longer than the pipe buffer, and checks every Write holds whole
// lines of one program, in order, and that no two Writes overlapped.
func TestLinesNeverInterleave(t *testing.T) {
	const lines = 1000
	h, out, _, _ := newTestHub(t)
	line := func(p string, i int) string {
		// Every 25th line is over twice the pipe buffer; all of a
		// program's lines fit in the queue, so none may be dropped.
		n := []int{0, 10, 100, 5000}[i%4]
		if i%25 == 0 {
			n = 150000
		}
		return fmt.Sprintf("%s-%04d-%s", p, i, strings.Repeat(p, n))
	}
	var wg sync.WaitGroup
	for _, p := range []string{"a", "b"} {
		s := open(t, h, Spec{Program: p, Stream: "stdout", Mode: "prefix"})
		wg.Go(func() {
			for i := range lines {
				if _, err := s.File().Write([]byte(line(p, i) + "\n")); err != nil {
					t.Error(err)
					return
				}
			}
			closeSink(t, s)
		})
	}
	wg.Wait()

	if out.overlap.Load() {
		t.Error("two Writes to the destination overlapped")
	}
	next := map[string]int{}
	for _, w := range out.Writes() {
		if !bytes.HasSuffix(w, []byte("\n")) {
			t.Fatalf("a Write ends mid-line: ...%q", w[max(0, len(w)-20):])
		}
		for l := range strings.Lines(string(w)) {
			p, rest, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " | ")
			if want := line(p, next[p]); rest != want {
				t.Fatalf("line %d of %s is %.30q..., want %.30q...", next[p], p, rest, want)
			}
			next[p]++
		}
	}
	if next["a"] != lines || next["b"] != lines {
		t.Errorf("got %v lines, want %d of each", next, lines)
	}
}

// TestStalledDestinationDropsInsteadOfBlocking points a sink at a pipe nobody
// reads: the child must still finish, and the lines it loses must be counted
// and logged.
func TestStalledDestinationDropsInsteadOfBlocking(t *testing.T) {
	stalled, stdout, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	defer stdout.Close()
	logs := newLogCapture()
	h := NewHub(stdout, stdout, slog.New(logs))
	s := open(t, h, Spec{Program: "nginx", Stream: "stdout", Mode: "prefix"})

	// 50 MB in 100-byte lines, far beyond the pipe, the queue and the
	// destination pipe together.
	run(t, s, nil, `yes 'a line of log output that is padded out to be exactly one hundred bytes long, newline included...' | head -c 50000000`)

	logs.wait(t, "lines from nginx stdout: destination stalled")
	if d := h.Dropped(); len(d) != 1 || d[0].Lines == 0 {
		t.Errorf("Dropped() = %v, want drops counted for nginx stdout", d)
	}
	if err := s.Close(0); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Close on a stalled destination: %v, want a deadline error", err)
	}

	// Unstalled, the sink writes what it queued and finishes.
	go func() { _, _ = io.Copy(io.Discard, stalled) }()
	closeSink(t, s)
}

func TestCloseWaitsForQueuedLines(t *testing.T) {
	g := newGate()
	h := newHub(os.Stdout, os.Stderr, g, g, nil)
	s := open(t, h, Spec{Program: "p", Stream: "stderr", Mode: "prefix"})
	run(t, nil, s, `seq 1 2000 >&2`)
	if err := s.Close(0); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Close with the destination held: %v, want a deadline error", err)
	}
	close(g.open)
	closeSink(t, s)

	var want strings.Builder
	for i := 1; i <= 2000; i++ {
		fmt.Fprintf(&want, "p | %d\n", i)
	}
	if got := g.String(); got != want.String() {
		t.Errorf("got %d bytes, want %d", len(got), want.Len())
	}
}

func TestCloseTimesOutWhileAnOrphanHoldsThePipe(t *testing.T) {
	h, out, _, _ := newTestHub(t)
	s := open(t, h, Spec{Program: "p", Stream: "stdout", Mode: "prefix"})
	pidFile := filepath.Join(t.TempDir(), "pid")
	run(t, s, nil, `echo before; sleep 60 & echo $! > "$1"`, pidFile)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}

	err = s.Close(0)
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "a process still holds it") {
		t.Fatalf("Close while the orphan runs: %v, want a deadline error naming the pipe", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	closeSink(t, s)
	if got := out.String(); got != "p | before\n" {
		t.Errorf("got %q", got)
	}
}

func TestSinkIsReusedAcrossChildren(t *testing.T) {
	h, out, _, _ := newTestHub(t)
	s := open(t, h, Spec{Program: "p", Stream: "stdout", Mode: "prefix"})
	run(t, s, nil, `printf 'one\npart'`)
	run(t, s, nil, `echo two`)
	select {
	case <-s.eof:
		t.Fatal("the reader saw EOF when the first child exited")
	default:
	}
	closeSink(t, s)
	// A line left open by one child is continued by the next: the pipe is
	// one stream, as it would be for a child and its orphans.
	if got, want := out.String(), "p | one\np | parttwo\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestForkExecGetsWriteEndOnly checks the FD_CLOEXEC reasoning in startPipe:
// both ends are close-on-exec in phpinit, yet a child started with
// syscall.ForkExec gets the write end as fd 1, in blocking mode, and never
// the read end.
func TestForkExecGetsWriteEndOnly(t *testing.T) {
	h, out, _, _ := newTestHub(t)
	s := open(t, h, Spec{Program: "p", Stream: "stdout", Mode: "prefix"})
	r, w := pipeEnds(t, s.File())
	for _, fd := range []int{r, w} {
		flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		if errno != 0 {
			t.Fatal(errno)
		}
		if flags&syscall.FD_CLOEXEC == 0 {
			t.Errorf("fd %d of the pipe is not close-on-exec", fd)
		}
	}
	// Checked before anyone calls File().Fd(), which would fix it anyway.
	status, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(w), syscall.F_GETFL, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if status&syscall.O_NONBLOCK != 0 {
		t.Errorf("the write end has flags %o: non-blocking", status)
	}

	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	script := fmt.Sprintf(`echo forked
for fd in %d %d; do [ -e /proc/$$/fd/$fd ] && [ "$(readlink /proc/$$/fd/$fd)" = "$(readlink /proc/$$/fd/1)" ] && echo "inherited $fd"; done
grep flags /proc/self/fdinfo/1`, r, w)
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{
		Files: []uintptr{devNull.Fd(), s.File().Fd(), devNull.Fd()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("child: %v, status %v", err, ws)
	}
	closeSink(t, s)

	got := out.String()
	if !strings.HasPrefix(got, "p | forked\np | flags:\t") || strings.Contains(got, "inherited") {
		t.Fatalf("child wrote %q", got)
	}
	flags, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(got, "p | forked\np | flags:\t")), 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	if flags&syscall.O_NONBLOCK != 0 {
		t.Errorf("the child's stdout is non-blocking (flags %o)", flags)
	}
}

// pipeEnds finds the fds of the pipe whose write end is f, without f.Fd,
// which would switch f to blocking mode.
func pipeEnds(t *testing.T, f *os.File) (r, w int) {
	t.Helper()
	raw, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Control(func(fd uintptr) { w = int(fd) }); err != nil {
		t.Fatal(err)
	}
	want, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", w))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	r = -1
	for _, e := range entries {
		fd, _ := strconv.Atoi(e.Name())
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == want && fd != w {
			if r != -1 {
				t.Fatalf("more than one other fd on the pipe: %d, %d", r, fd)
			}
			r = fd
		}
	}
	if r == -1 {
		t.Fatal("no read end found")
	}
	return r, w
}
