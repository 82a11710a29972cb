package healthcheck

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/phpinit/phpinit/supervisor"
)

// fakeTree is a /proc the test rewrites between scrapes.
type fakeTree struct {
	t    *testing.T
	root string
}

// set writes pid's stat with its parent and utime, stime, cutime, cstime.
func (f fakeTree) set(pid, ppid int, ticks [4]int) {
	f.t.Helper()
	dir := filepath.Join(f.root, itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	stat := itoa(pid) + " (php-fpm) S " + itoa(ppid) + " 1 1 0 -1 0 0 0 0 0 " +
		itoa(ticks[0]) + " " + itoa(ticks[1]) + " " + itoa(ticks[2]) + " " + itoa(ticks[3]) + " 20 0 1 0\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f fakeTree) remove(pid int) {
	if err := os.RemoveAll(filepath.Join(f.root, itoa(pid))); err != nil {
		f.t.Fatal(err)
	}
}

// The CPU counter of a program never decreases: not when a worker exits
// (its time moves into the master's cutime, or is briefly in neither), not
// when the main process is replaced, not while the program is down.
func TestCPUSecondsMonotonic(t *testing.T) {
	f := fakeTree{t, t.TempDir()}
	src := newFakeSource(nil)
	o := ServerOptions{Source: src, proc: procFS{root: f.root, pageSize: 4096}}
	running := func(pid int) {
		src.snap.Store(&supervisor.Snapshot{Programs: []supervisor.ProgramStatus{{Name: "php-fpm", State: "RUNNING", PID: pid}}})
	}
	s := newTestServer(t, o)
	cpu := func() float64 {
		t.Helper()
		code, body := do(t, s.Handler(), "GET", "/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		return value(t, parseMetrics(t, body), "phpinit_program_cpu_seconds_total", map[string]string{"program": "php-fpm"})
	}
	f.set(1, 0, [4]int{1, 1, 0, 0})
	f.set(100, 1, [4]int{10, 10, 0, 0})
	f.set(101, 100, [4]int{300, 100, 0, 0})
	running(100)
	steps := []struct {
		what string
		do   func()
		want float64
	}{
		{"master and a busy worker", func() {}, 4.2},
		{"worker exited, not yet reaped by the master", func() { f.remove(101) }, 4.2},
		{"worker reaped: its time is in the master's cutime", func() { f.set(100, 1, [4]int{10, 10, 300, 100}) }, 4.2},
		{"a new worker works", func() { f.set(102, 100, [4]int{50, 0, 0, 0}) }, 4.7},
		{"program down", func() {
			f.remove(100)
			f.remove(102)
			src.snap.Store(&supervisor.Snapshot{Programs: []supervisor.ProgramStatus{{Name: "php-fpm", State: "BACKOFF"}}})
		}, 4.7},
		{"new main process", func() { f.set(200, 1, [4]int{5, 5, 0, 0}); running(200) }, 4.8},
		// A scrape that took its snapshot before the restart, while the
		// old PID is (again) in /proc: the old tree is not counted twice.
		{"stale snapshot", func() { f.set(100, 1, [4]int{10, 10, 300, 100}); running(100) }, 4.8},
		{"current again", func() { running(200) }, 4.8},
	}
	last := 0.0
	for _, st := range steps {
		st.do()
		got := cpu()
		if got < last {
			t.Errorf("%s: counter went from %v down to %v", st.what, last, got)
		}
		if diff := got - st.want; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s: %v, want %v", st.what, got, st.want)
		}
		last = got
	}
}
