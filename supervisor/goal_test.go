package supervisor

import (
	"slices"
	"testing"
	"time"
)

// A program's goal decides what happens once it ends or is down.
func TestGoalAfterExit(t *testing.T) {
	tests := []struct {
		restart  Restart
		code     int
		want     State
		wantGoal Goal
	}{
		{RestartAlways, 0, Starting, GoalUp},
		{RestartOnFailure, 3, Starting, GoalUp},
		{RestartOnFailure, 0, Exited, GoalDown},
		{RestartNever, 3, Exited, GoalDown},
	}
	for _, tc := range tests {
		sp := fakeSpecNoDelay("web")
		sp.StartSeconds = time.Second
		sp.Restart = tc.restart
		h := newLoopHarness(t, sp)
		h.advance(time.Second)
		h.want("web", Running)
		h.exit("web", tc.code)
		// A restart after a good run is immediate: no backoff timer.
		if p := h.want("web", tc.want); p.goal != tc.wantGoal || p.failures != 0 {
			t.Errorf("restart %v, exit %d: goal %s failures %d, want %s 0", tc.restart, tc.code, p.goal, p.failures, tc.wantGoal)
		}
	}
}

// FATAL is final until asked again; a restart goes down, then up.
func TestGoalFatalAndRestart(t *testing.T) {
	sp := fakeSpec("web")
	sp.StartRetries = 0
	h := newLoopHarness(t, sp)
	h.exit("web", 1)
	if p := h.want("web", Fatal); p.goal != GoalDown {
		t.Fatalf("goal %s after FATAL, want down", p.goal)
	}
	h.advance(time.Hour)
	h.want("web", Fatal)

	p := h.s.progs["web"]
	p.goal = GoalUp // as ctl start does
	h.settle()
	h.want("web", Starting)
	h.advance(2 * time.Second)
	h.want("web", Running)
	p.restart(h.s)
	h.settle()
	if p := h.want("web", Stopping); p.goal != GoalRestart {
		t.Fatalf("goal %s while restarting", p.goal)
	}
	h.exit("web", -15)
	if p := h.want("web", Starting); p.goal != GoalUp {
		t.Errorf("goal %s after restart, want up", p.goal)
	}
}

// A program starts only once what it depends on is RUNNING.
func TestGoalWaitsForDependencies(t *testing.T) {
	a, b := fakeSpec("a"), fakeSpec("b")
	b.DependsOn = []string{"a"}
	h := newLoopHarness(t, a, b)
	h.want("a", Starting)
	if p := h.want("b", Stopped); p.goal != GoalUp {
		t.Fatalf("b's goal %s, want up", p.goal)
	}
	h.advance(2 * time.Second)
	h.want("a", Running)
	h.want("b", Starting)
}

// An action's event is queued, not re-entered: the transition that spawned
// completes, its waiters notified, before the spawn's EvReady is handled.
func TestEventsRaisedByActionsAreQueued(t *testing.T) {
	h := newLoopHarness(t, fakeSpecNoDelay("web"))
	p := h.want("web", Running)
	p.wantDown()
	p.apply(h.s, EvStop)
	h.exit("web", -15)
	h.want("web", Stopped)
	h.advance(minStableRun) // past the start throttle

	var seen []State
	p.waiters = append(p.waiters, waiter{
		check: func(_ *Supervisor, p *program) (bool, error) { seen = append(seen, p.state); return false, nil },
		reply: make(chan error, 1),
	})
	p.apply(h.s, EvStart) // spawn raises EvReady (start_seconds 0)
	if want := []State{Starting, Running}; !slices.Equal(seen, want) {
		t.Errorf("waiters saw %v, want %v", seen, want)
	}
	if len(h.s.queue) != 0 || h.s.delivering {
		t.Errorf("queue %v delivering %v once delivered", h.s.queue, h.s.delivering)
	}
}
