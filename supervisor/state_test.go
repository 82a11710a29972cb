package supervisor

import (
	"slices"
	"testing"
	"time"
)

// allFacts is every combination of Facts.
func allFacts() []Facts {
	var out []Facts
	for i := range 64 {
		out = append(out, Facts{RetriesLeft: i&1 != 0, Throttled: i&2 != 0, Restart: i&4 != 0,
			ShortRun: i&8 != 0, StartFailed: i&16 != 0, CheckOnFail: i&32 != 0})
	}
	return out
}

// wantTransition is the lifecycle written out pair by pair; ok false
// means the event is a no-op in that state.
func wantTransition(s State, e Event, f Facts) (State, bool) {
	counted := Fatal
	if f.RetriesLeft {
		counted = Backoff
	}
	failed := counted
	if f.CheckOnFail {
		failed = Backoff // waiting for the check
	}
	switch {
	case (s == Stopped || s == Exited || s == Fatal) && e == EvStart:
		if f.Throttled {
			return Backoff, true
		}
		return Starting, true
	case s == Starting && e == EvReady:
		return Running, true
	case s == Starting && e == EvExit:
		return failed, true
	case s == Starting && e == EvSpawnFailed:
		return counted, true
	case s == Starting && (e == EvStop || e == EvStartTimeout):
		return Stopping, true
	case s == Running && e == EvStable:
		return Running, true
	case s == Running && e == EvExit:
		if f.Restart && f.ShortRun {
			return failed, true
		}
		return Exited, true
	case s == Running && e == EvStop:
		return Stopping, true
	case s == Backoff && e == EvBackoffDone:
		return Starting, true
	case s == Backoff && e == EvCheckPassed:
		return counted, true
	case s == Backoff && e == EvCheckFailed:
		return Fatal, true
	case s == Backoff && e == EvStop:
		return Stopped, true
	case s == Stopping && e == EvExit:
		if f.StartFailed {
			return failed, true
		}
		return Stopped, true
	case s == Stopping && e == EvStopTimeout:
		return Stopping, true
	}
	return s, false
}

func TestTransitionTable(t *testing.T) {
	events := []Event{EvStart, EvReady, EvExit, EvSpawnFailed, EvBackoffDone, EvStop, EvStopTimeout, EvStartTimeout, EvStable,
		EvCheckPassed, EvCheckFailed}
	for _, s := range States() {
		for _, e := range events {
			if e.String() == "unknown" {
				t.Errorf("event %d has no name", e)
			}
			for _, f := range allFacts() {
				got, actions := Transition(s, e, f)
				w, listed := wantTransition(s, e, f)
				if !listed {
					if got != s || actions != nil {
						t.Errorf("%s + %s: want no-op, got %s %v", s, e, got, actions)
					}
					continue
				}
				if got != w {
					t.Errorf("%s + %s (%+v): got %s, want %s", s, e, f, got, w)
				}
				if len(actions) == 0 {
					t.Errorf("%s + %s: transition without actions", s, e)
				}
			}
		}
	}
}

func TestTransitionActions(t *testing.T) {
	_, a := Transition(Starting, EvExit, Facts{RetriesLeft: true})
	if !slices.Contains(a, ActScheduleBackoff) || !slices.Contains(a, ActCountFailure) {
		t.Errorf("failed start must count and back off: %v", a)
	}
	_, a = Transition(Running, EvExit, Facts{Restart: true})
	if !slices.Contains(a, ActRestart) || slices.Contains(a, ActCountFailure) {
		t.Errorf("exit after a stable run restarts without counting a failure: %v", a)
	}
	_, a = Transition(Running, EvExit, Facts{Restart: true, ShortRun: true, RetriesLeft: true})
	if !slices.Contains(a, ActCountFailure) || !slices.Contains(a, ActScheduleBackoff) {
		t.Errorf("a short run that is restarted is a failed start: %v", a)
	}
	_, a = Transition(Running, EvExit, Facts{ShortRun: true})
	if !slices.Contains(a, ActEnded) || slices.Contains(a, ActCountFailure) {
		t.Errorf("an exit the policy does not restart ends the program, short or not: %v", a)
	}
	_, a = Transition(Exited, EvStart, Facts{Throttled: true})
	if !slices.Equal(a, []Action{ActScheduleThrottle}) {
		t.Errorf("a throttled start waits: %v", a)
	}
	_, a = Transition(Starting, EvStartTimeout, Facts{})
	if !slices.Contains(a, ActStartTimedOut) || !slices.Contains(a, ActSignalStop) {
		t.Errorf("start timeout stops the program as a failed start: %v", a)
	}
	_, a = Transition(Stopping, EvStopTimeout, Facts{})
	if !slices.Equal(a, []Action{ActKillGroup}) {
		t.Errorf("stop timeout must kill the group: %v", a)
	}
	_, a = Transition(Starting, EvExit, Facts{RetriesLeft: true, CheckOnFail: true})
	if !slices.Contains(a, ActStartCheck) || slices.Contains(a, ActCountFailure) || slices.Contains(a, ActScheduleBackoff) {
		t.Errorf("a failed start with a check runs it before counting or backing off: %v", a)
	}
	_, a = Transition(Starting, EvSpawnFailed, Facts{RetriesLeft: true, CheckOnFail: true})
	if slices.Contains(a, ActStartCheck) {
		t.Errorf("a start that could not spawn is not checked: %v", a)
	}
	_, a = Transition(Backoff, EvCheckPassed, Facts{RetriesLeft: true})
	if !slices.Contains(a, ActCountFailure) || !slices.Contains(a, ActScheduleBackoff) {
		t.Errorf("a passed check leads to the normal backoff: %v", a)
	}
	_, a = Transition(Backoff, EvCheckFailed, Facts{RetriesLeft: true})
	if !slices.Contains(a, ActConfigInvalid) {
		t.Errorf("a failed check records the config error: %v", a)
	}
	for _, s := range States() {
		if s.String() == "UNKNOWN" {
			t.Errorf("state %d has no name", s)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	mid := func() float64 { return 0.5 } // no jitter
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{0, 200 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{10, 30 * time.Second},
		{100, 30 * time.Second},
	}
	for _, c := range cases {
		if got := backoffDelay(c.failures, 200*time.Millisecond, 30*time.Second, mid); got != c.want {
			t.Errorf("failures=%d: got %v, want %v", c.failures, got, c.want)
		}
	}
	lo := backoffDelay(3, 200*time.Millisecond, 30*time.Second, func() float64 { return 0 })
	hi := backoffDelay(3, 200*time.Millisecond, 30*time.Second, func() float64 { return 0.999999 })
	if lo != 720*time.Millisecond || hi < 879*time.Millisecond || hi > 880*time.Millisecond {
		t.Errorf("jitter must stay within ±10%%: lo=%v hi=%v", lo, hi)
	}
}

func TestDependencyOrder(t *testing.T) {
	order, err := dependencyOrder([]ProgramSpec{
		{Name: "nginx", DependsOn: []string{"php-fpm"}},
		{Name: "cron"},
		{Name: "php-fpm"},
		{Name: "worker", DependsOn: []string{"nginx", "cron"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"php-fpm", "nginx", "cron", "worker"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	// Without dependencies the given order stands: config.Order has placed
	// programs by priority (a supervisord file's 10 before 20).
	order, _ = dependencyOrder([]ProgramSpec{{Name: "zz-first"}, {Name: "aa-second"}})
	if want := []string{"zz-first", "aa-second"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if _, err := dependencyOrder([]ProgramSpec{{Name: "a", DependsOn: []string{"b"}}, {Name: "b", DependsOn: []string{"a"}}}); err == nil {
		t.Error("a cycle must be an error")
	}
	if _, err := dependencyOrder([]ProgramSpec{{Name: "a", DependsOn: []string{"nope"}}}); err == nil {
		t.Error("an unknown dependency must be an error")
	}
}

func TestReadinessDelay(t *testing.T) {
	second := time.Second
	if d := nextReadinessDelay(firstProbeDelay, false, 0, second); d != time.Millisecond {
		t.Errorf("after the first miss: %v, want 1ms", d)
	}
	if d := nextReadinessDelay(4*time.Millisecond, false, 100*time.Millisecond, second); d != fastProbeMax {
		t.Errorf("early in the start: %v, want the cap %v", d, fastProbeMax)
	}
	if d := nextReadinessDelay(fastProbeMax, false, 2*time.Second, second); d != 2*fastProbeMax {
		t.Errorf("after the first second: %v, want doubling again", d)
	}
	if d := nextReadinessDelay(20*time.Millisecond, false, 2*time.Second, second); d != slowProbeMax {
		t.Errorf("in a slow start: %v, want the cap %v", d, slowProbeMax)
	}
	if d := nextReadinessDelay(slowProbeMax, false, 10*time.Second, second); d != 2*slowProbeMax {
		t.Errorf("late in a slow start: %v, want doubling again", d)
	}
	if d := nextReadinessDelay(800*time.Millisecond, false, time.Minute, second); d != second {
		t.Errorf("capped at the interval: %v", d)
	}
	if d := nextReadinessDelay(5*time.Millisecond, true, 0, second); d != second {
		t.Errorf("after a pass: %v, want the interval", d)
	}
}

func TestAlignedDelay(t *testing.T) {
	epoch := time.Unix(1000, 0)
	if d := alignedDelay(epoch.Add(3*time.Second), epoch, 10*time.Second); d != 7*time.Second {
		t.Errorf("3s after the epoch: %v, want 7s", d)
	}
	if d := alignedDelay(epoch.Add(9500*time.Millisecond), epoch, 10*time.Second); d != 10500*time.Millisecond {
		t.Errorf("just before a boundary: %v, want the one after (10.5s)", d)
	}
	// Two programs that became ready at different times probe together.
	a, b := epoch.Add(12*time.Second), epoch.Add(17*time.Second)
	if at, bt := a.Add(alignedDelay(a, epoch, 10*time.Second)), b.Add(alignedDelay(b, epoch, 10*time.Second)); !at.Equal(bt) {
		t.Errorf("probes at %v and %v, want the same instant", at.Sub(epoch), bt.Sub(epoch))
	}
}
