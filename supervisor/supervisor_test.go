package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/logsink"
)

// These tests run real processes with the test binary as child subreaper.
// They synchronise on published snapshots, never on fixed sleeps.

func shSpec(name, script string) ProgramSpec {
	return ProgramSpec{
		Name:           name,
		Command:        []string{"sh", "-c", script},
		Env:            os.Environ(),
		Critical:       true,
		StartSeconds:   50 * time.Millisecond,
		StartRetries:   5,
		BackoffInitial: 20 * time.Millisecond,
		BackoffMax:     time.Second,
		StopSignal:     syscall.SIGTERM,
		StopTimeout:    5 * time.Second,
		Stdout:         logsink.Spec{Program: name, Stream: "stdout", Mode: "inherit"},
		Stderr:         logsink.Spec{Program: name, Stream: "stderr", Mode: "inherit"},
	}
}

type running struct {
	sup    *Supervisor
	cancel context.CancelFunc
	code   chan int
}

func start(t *testing.T, o Options) *running {
	t.Helper()
	sup, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{sup: sup, cancel: cancel, code: make(chan int, 1)}
	go func() { r.code <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.code:
		case <-time.After(20 * time.Second):
			t.Error("supervisor did not stop")
		}
	})
	return r
}

func (r *running) waitFor(t *testing.T, what string, cond func(*Snapshot) bool) *Snapshot {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if sn := r.sup.Snapshot(); cond(sn) {
			return sn
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last snapshot: %+v", what, r.sup.Snapshot().Programs)
	return nil
}

func (r *running) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case c := <-r.code:
		r.code <- c
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not stop")
		return -1
	}
}

func state(name, want string) func(*Snapshot) bool {
	return func(sn *Snapshot) bool {
		p, ok := sn.Program(name)
		return ok && p.State == want
	}
}

func TestDependencyGatesStart(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "order")
	a := shSpec("a", fmt.Sprintf("echo a >> %s; exec sleep 100", log))
	a.StartSeconds = 300 * time.Millisecond
	b := shSpec("b", fmt.Sprintf("echo b >> %s; exec sleep 100", log))
	b.DependsOn = []string{"a"}
	r := start(t, Options{Programs: []ProgramSpec{b, a}})
	r.waitFor(t, "b running", state("b", "RUNNING"))
	sn := r.sup.Snapshot()
	pa, _ := sn.Program("a")
	pb, _ := sn.Program("b")
	if !pb.Started.After(pa.Started.Add(300 * time.Millisecond)) {
		t.Errorf("b started at %v, before a (started %v) counted as running", pb.Started, pa.Started)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("clean stop exit code %d, want 0", code)
	}
	got, _ := os.ReadFile(log)
	if string(got) != "a\nb\n" {
		t.Errorf("start order %q", got)
	}
}

func TestCrashLoopGoesFatalWithBackoff(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "starts")
	p := shSpec("crash", fmt.Sprintf("date +%%s%%N >> %s; exit 3", log))
	p.StartRetries = 3
	p.StartSeconds = 5 * time.Second // a slow fork on a loaded machine must not count as a good start
	p.BackoffInitial = 50 * time.Millisecond
	r := start(t, Options{Programs: []ProgramSpec{p}, Logger: testLogger(t)})
	var code int
	select {
	case code = <-r.code:
		r.code <- code
	case <-time.After(20 * time.Second):
		t.Fatal("phpinit did not give up on a crash-looping critical program")
	}
	if code != 3 {
		t.Errorf("exit code %d, want the program's 3", code)
	}
	raw, _ := os.ReadFile(log)
	lines := strings.Fields(string(raw))
	if len(lines) != 4 {
		t.Fatalf("%d starts, want 4 (1 + start_retries 3): %v", len(lines), lines)
	}
	var gaps []time.Duration
	for i := 1; i < len(lines); i++ {
		a, _ := strconv.ParseInt(lines[i-1], 10, 64)
		b, _ := strconv.ParseInt(lines[i], 10, 64)
		gaps = append(gaps, time.Duration(b-a))
	}
	// Backoff doubles (50, 100, 200 ms ±10%): each gap at least the delay.
	for i, min := range []time.Duration{45, 90, 180} {
		if gaps[i] < min*time.Millisecond {
			t.Errorf("gap %d = %v, want >= %v ms (backoff)", i, gaps[i], min)
		}
	}
	if p, _ := r.sup.Snapshot().Program("crash"); p.State != "FATAL" {
		t.Errorf("state %s, want FATAL", p.State)
	}
}

func TestStopTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "child")
	p := shSpec("stubborn", fmt.Sprintf("trap '' TERM; sh -c 'trap \"\" TERM; echo $$ > %s; while :; do sleep 0.05; done' & while :; do sleep 0.05; done", pidf))
	p.StopTimeout = 300 * time.Millisecond
	r := start(t, Options{Programs: []ProgramSpec{p}, Grace: 10 * time.Second})
	r.waitFor(t, "running", state("stubborn", "RUNNING"))
	for i := 0; i < 400 && !fileExists(pidf); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	raw, _ := os.ReadFile(pidf)
	child, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	began := time.Now()
	if code := r.stop(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("stopped after %v, before stop_timeout: the TERM was not ignored?", took)
	}
	if child == 0 || syscall.Kill(child, 0) == nil {
		t.Errorf("grandchild %d survived the group kill", child)
	}
	if p, _ := r.sup.Snapshot().Program("stubborn"); p.LastExit == nil || !strings.Contains(p.LastExit.Desc, "KILL") {
		t.Errorf("last exit %+v, want killed", p.LastExit)
	}
}

func TestRestartKillsOrphanedGroupFirst(t *testing.T) {
	dir := t.TempDir()
	pidf := filepath.Join(dir, "worker")
	// Like php-fpm: a master with a worker in its group; kill -9 of the
	// master leaves the worker, which must be gone before the restart.
	p := shSpec("master", fmt.Sprintf("sh -c 'echo $$ >> %s; exec sleep 100' & exec sleep 100", pidf))
	r := start(t, Options{Programs: []ProgramSpec{p}})
	first := r.waitFor(t, "running", state("master", "RUNNING"))
	pm, _ := first.Program("master")
	for i := 0; i < 400 && !fileExists(pidf); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	raw, _ := os.ReadFile(pidf)
	worker, _ := strconv.Atoi(strings.Fields(string(raw))[0])
	if err := syscall.Kill(pm.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "restarted", func(sn *Snapshot) bool {
		p, _ := sn.Program("master")
		return p.State == "RUNNING" && p.PID != pm.PID && p.PID != 0
	})
	if syscall.Kill(worker, 0) == nil {
		t.Errorf("orphaned worker %d still alive after restart", worker)
	}
	p2, _ := r.sup.Snapshot().Program("master")
	if p2.Restarts != 1 || p2.Exits["signal"] != 1 {
		t.Errorf("restarts=%d exits=%v, want 1 restart after 1 signal exit", p2.Restarts, p2.Exits)
	}
}

func TestOrphansReaped(t *testing.T) {
	const n = 300
	p := shSpec("forker", fmt.Sprintf("i=0; while [ $i -lt %d ]; do (true &) ; i=$((i+1)); done; exec sleep 100", n))
	r := start(t, Options{Programs: []ProgramSpec{p}})
	r.waitFor(t, "orphans reaped", func(sn *Snapshot) bool { return sn.OrphansReaped >= n })
	if z := zombies(t); z > 0 {
		t.Errorf("%d zombie children of the subreaper left", z)
	}
}

func TestReloadRunsCheckFirst(t *testing.T) {
	dir := t.TempDir()
	hups := filepath.Join(dir, "hups")
	okFile := filepath.Join(dir, "ok")
	p := shSpec("web", fmt.Sprintf("trap 'echo hup >> %s' HUP; while :; do sleep 0.05; done", hups))
	p.ReloadSignal = syscall.SIGHUP
	p.Check = []string{"sh", "-c", fmt.Sprintf("echo checking; test -e %s || { echo 'bad config line 3' >&2; exit 1; }", okFile)}
	r := start(t, Options{Programs: []ProgramSpec{p}})
	r.waitFor(t, "running", state("web", "RUNNING"))
	reload := func() error {
		ch := make(chan error, 1)
		if err := r.sup.Do(context.Background(), func() {
			r.sup.reloadProgram(r.sup.progs["web"], func(err error) { ch <- err })
		}); err != nil {
			t.Fatal(err)
		}
		err := <-ch
		// The reply comes from inside a loop event; the snapshot is
		// published after it. One more event makes sure it is.
		if perr := r.sup.Ping(context.Background()); perr != nil {
			t.Fatal(perr)
		}
		return err
	}
	err := reload()
	if err == nil || !strings.Contains(err.Error(), "bad config line 3") {
		t.Fatalf("failed check: got %v, want the checker's output", err)
	}
	if fileExists(hups) {
		t.Error("program got its reload signal although the check failed")
	}
	pw, _ := r.sup.Snapshot().Program("web")
	if pw.LastReload == nil || pw.LastReload.Result != ReloadCheckFailed {
		t.Errorf("last reload %+v, want check_failed", pw.LastReload)
	}
	os.WriteFile(okFile, nil, 0o644)
	if err := reload(); err != nil {
		t.Fatalf("passing check: %v", err)
	}
	for i := 0; i < 400 && !fileExists(hups); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if !fileExists(hups) {
		t.Error("program never got HUP after a passing check")
	}
	if pw2, _ := r.sup.Snapshot().Program("web"); pw2.PID != pw.PID || pw2.Reloads["ok"] != 1 {
		t.Errorf("pid %d->%d reloads %v: want same pid and one ok reload", pw.PID, pw2.PID, pw2.Reloads)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// zombies counts this process's children that are zombies.
func zombies(t *testing.T) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	n := 0
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[0] == "Z" && f[1] == me {
			n++
		}
	}
	return n
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
