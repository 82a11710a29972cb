package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder keeps every Write separately.
type recorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) Writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func sh(script string) Spec {
	return Spec{Argv: []string{"sh", "-c", script}, Env: []string{"PATH=" + os.Getenv("PATH")}}
}

func TestRunCodes(t *testing.T) {
	tests := []struct {
		script string
		code   int
		desc   string
	}{
		{"exit 0", 0, "exit status 0"},
		{"exit 3", 3, "exit status 3"},
		{"kill -KILL $$", 137, "signal SIGKILL"},
		{"kill -TERM $$", 143, "signal SIGTERM"},
	}
	for _, tc := range tests {
		t.Run(tc.script, func(t *testing.T) {
			res := Run(context.Background(), sh(tc.script))
			if res.Code != tc.code || res.Desc(0) != tc.desc || res.OK() != (tc.code == 0) {
				t.Errorf("code %d %q ok %v, want %d %q", res.Code, res.Desc(0), res.OK(), tc.code, tc.desc)
			}
		})
	}
}

func TestRunStartCodes(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "plain"), []byte("#!/bin/sh\n"), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "adir"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "rel"), []byte("#!/bin/sh\nexit 7\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "noshebang"), []byte("exit 5\n"), 0o755))
	env := []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
	tests := []struct {
		argv      []string
		dir       string
		fallback  bool
		code      int
		wantStart error
	}{
		{[]string{"no-such-command-phpinit"}, "", false, 127, ErrNotFound},
		{[]string{"/no/such/file"}, "", false, 127, ErrNotFound},
		{[]string{"plain"}, "", false, 126, ErrNotExecutable},
		{[]string{"adir"}, "", false, 126, ErrNotExecutable},
		{[]string{filepath.Join(dir, "adir")}, "", false, 126, ErrNotExecutable},
		{[]string{"./rel"}, dir, false, 7, nil},
		{[]string{"noshebang"}, "", false, 126, syscall.ENOEXEC},
		{[]string{"noshebang"}, "", true, 5, nil},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			res := Run(context.Background(), Spec{Argv: tc.argv, Env: env, Dir: tc.dir, ShellFallback: tc.fallback})
			if res.Code != tc.code {
				t.Errorf("code %d (%v), want %d", res.Code, res.StartErr, tc.code)
			}
			if tc.wantStart != nil && !errors.Is(res.StartErr, tc.wantStart) {
				t.Errorf("start error %v, want %v", res.StartErr, tc.wantStart)
			}
		})
	}
}

func TestLookPathRelativePathEntry(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bin", "tool"), []byte("#!/bin/sh\n"), 0o755))
	got, err := LookPath("tool", []string{"PATH=/nonexistent:bin"}, dir)
	if err != nil || got != filepath.Join(dir, "bin", "tool") {
		t.Errorf("LookPath = %q, %v", got, err)
	}
}

func TestRunCapture(t *testing.T) {
	res := Run(context.Background(), sh("echo out; echo err >&2; printf tail"))
	if got := string(res.Output); got != "out\nerr\ntail\n" || res.Truncated {
		t.Errorf("output %q truncated %v", got, res.Truncated)
	}
	s := sh("head -c 100000 /dev/zero | tr '\\0' x")
	s.MaxOutput = 10
	res = Run(context.Background(), s)
	if string(res.Output) != "xxxxxxxxxx" || !res.Truncated || !res.OK() {
		t.Errorf("output %q truncated %v ok %v", res.Output, res.Truncated, res.OK())
	}
}

func TestRunForward(t *testing.T) {
	var out, errw recorder
	s := sh("echo a; echo b >&2; echo c")
	s.Stdout, s.Stderr = &out, &errw
	res := Run(context.Background(), s)
	if !res.OK() || strings.Join(out.Writes(), "") != "a\nc\n" || strings.Join(errw.Writes(), "") != "b\n" {
		t.Errorf("ok %v stdout %q stderr %q", res.OK(), out.Writes(), errw.Writes())
	}
}

func TestRunTimeoutKillsGroup(t *testing.T) {
	s := sh("sleep 100 & echo $!; wait")
	s.Timeout = 200 * time.Millisecond
	res := Run(context.Background(), s)
	if !res.TimedOut || res.Code != 137 || res.OK() {
		t.Fatalf("timed out %v code %d", res.TimedOut, res.Code)
	}
	if !strings.HasPrefix(res.Desc(s.Timeout), "timed out after") {
		t.Errorf("desc %q", res.Desc(s.Timeout))
	}
	awaitGone(t, string(res.Output))
}

func TestRunCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := sh("echo started; sleep 100")
	var out recorder
	s.Stdout = &out
	c, err := Start(s)
	must(t, err)
	go func() {
		for len(out.Writes()) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	res := c.Wait(ctx)
	if !res.Canceled || res.TimedOut || res.Code != 137 {
		t.Errorf("canceled %v timed out %v code %d", res.Canceled, res.TimedOut, res.Code)
	}
}

// escaped starts a sleep in a session of its own that holds the output
// pipe, prints its pid once it has left the group, and exits 0.
const escaped = `f=$(mktemp -u); mkfifo "$f"; setsid sh -c "echo \$\$ >$f; exec sleep 100" & read pid <"$f"; rm "$f"; echo $pid; exit 0`

// A descendant that left the group (setsid) and holds the output pipe
// bounds the wait by Linger, not by its own life.
func TestRunEscapedDescendantHoldingPipe(t *testing.T) {
	s := sh(escaped)
	s.Linger = 50 * time.Millisecond
	s.Timeout = time.Minute
	res := Run(context.Background(), s)
	if !res.OK() || !res.Lingering {
		t.Errorf("ok %v lingering %v (%s)", res.OK(), res.Lingering, res.Desc(0))
	}
	pid := strings.TrimSpace(string(res.Output))
	if n, err := strconv.Atoi(pid); err == nil {
		_ = syscall.Kill(n, syscall.SIGKILL)
	}
}

// awaitGone waits for the pids (one per line) to be gone or zombies.
func awaitGone(t *testing.T, pids string) {
	t.Helper()
	for _, f := range strings.Fields(pids) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad pid %q", f)
		}
		deadline := time.Now().Add(30 * time.Second)
		for alive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("pid %d still running", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
