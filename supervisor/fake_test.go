package supervisor

import (
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/proc"
)

// fakeClock fires timers only when Advance moves time past them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	d       time.Duration
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), d: d, f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves time on by d and runs, in time order, every timer due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			break
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		if t.stopped {
			continue
		}
		c.now = t.at
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// Pending lists the delays the armed timers were set with.
func (c *fakeClock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, t := range c.timers {
		if !t.stopped {
			ds = append(ds, t.d)
		}
	}
	return ds
}

// fakePIDs are above any pid_max (2^22), so kill(2) on them is ESRCH and
// no real process group is ever reached.
const fakePIDs = 1 << 23

// loopHarness drives a Supervisor's loop on the test goroutine, with a
// fake clock, fake spawns and fake exits: no process, no sleep.
type loopHarness struct {
	t       *testing.T
	s       *Supervisor
	clock   *fakeClock
	nextPID int
	spawned [][]string
	kills   []string
	// targets are the kills' pids (negative: a process group).
	targets []int
}

func newLoopHarness(t *testing.T, specs ...ProgramSpec) *loopHarness {
	t.Helper()
	h := &loopHarness{t: t, clock: newFakeClock(), nextPID: fakePIDs}
	s, err := New(Options{Programs: specs, Clock: h.clock, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.rnd = func() float64 { return 0.5 } // no jitter
	s.spawn = func(argv, _ []string, _ string, _ *syscall.Credential, _ []uintptr, _ []uintptr, _ proc.Privileges) (int, error) {
		h.nextPID++
		h.spawned = append(h.spawned, argv)
		return h.nextPID, nil
	}
	s.kill = func(pid int, sig syscall.Signal) error {
		h.kills = append(h.kills, sigName(sig))
		h.targets = append(h.targets, pid)
		return nil
	}
	h.s = s
	s.startAll()
	h.settle()
	return h
}

// settle runs what the loop would: queued events and reconcile, until
// nothing is left.
func (h *loopHarness) settle() {
	for {
		h.s.reconcile()
		select {
		case fn := <-h.s.events:
			fn()
		default:
			h.s.publish()
			return
		}
	}
}

func (h *loopHarness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.settle()
}

// exit reaps the program's main process with exit code code (or, when
// code < 0, killed by signal -code), as the reaper would.
func (h *loopHarness) exit(name string, code int) {
	h.t.Helper()
	p := h.s.progs[name]
	if p == nil || !p.alive() {
		h.t.Fatalf("%s has no live main process", name)
	}
	ws := unix.WaitStatus(code << 8)
	if code < 0 {
		ws = unix.WaitStatus(-code)
	}
	delete(h.s.byPID, p.pid)
	p.mainExited(h.s, ws)
	for _, n := range h.s.order {
		h.s.progs[n].checkCleanup(h.s)
	}
	h.settle()
}

func (h *loopHarness) want(name string, st State) *program {
	h.t.Helper()
	p := h.s.progs[name]
	if p == nil {
		h.t.Fatalf("%s: no such program", name)
	}
	if p.state != st {
		h.t.Fatalf("%s is %s, want %s", name, p.state, st)
	}
	return p
}

func (h *loopHarness) wantPending(ds ...time.Duration) {
	h.t.Helper()
	got := h.clock.Pending()
	for _, d := range ds {
		if !slices.Contains(got, d) {
			h.t.Fatalf("armed timers %v, want one of %v", got, d)
		}
	}
}

func fakeSpec(name string) ProgramSpec {
	sp := shSpec(name, "exec sleep 100")
	sp.Critical = false
	sp.StartSeconds = 2 * time.Second
	sp.StartRetries = 3
	sp.BackoffInitial = time.Second
	sp.BackoffMax = 4 * time.Second
	sp.StopTimeout = 5 * time.Second
	sp.Fingerprint = "v1"
	return sp
}
