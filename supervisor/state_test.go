package supervisor

import (
	"slices"
	"testing"
	"time"
)

func TestTransitionTable(t *testing.T) {
	type key struct {
		s     State
		e     Event
		retry bool
	}
	// Every pair not listed here must be a no-op.
	want := map[key]State{}
	for _, r := range []bool{false, true} {
		for _, s := range []State{Stopped, Exited, Fatal} {
			want[key{s, EvStart, r}] = Starting
		}
		want[key{Starting, EvReady, r}] = Running
		want[key{Starting, EvStop, r}] = Stopping
		want[key{Running, EvExit, r}] = Exited
		want[key{Running, EvStop, r}] = Stopping
		want[key{Backoff, EvBackoffDone, r}] = Starting
		want[key{Backoff, EvStop, r}] = Stopped
		want[key{Stopping, EvExit, r}] = Stopped
		want[key{Stopping, EvStopTimeout, r}] = Stopping
	}
	want[key{Starting, EvExit, true}] = Backoff
	want[key{Starting, EvSpawnFailed, true}] = Backoff
	want[key{Starting, EvExit, false}] = Fatal
	want[key{Starting, EvSpawnFailed, false}] = Fatal

	events := []Event{EvStart, EvReady, EvExit, EvSpawnFailed, EvBackoffDone, EvStop, EvStopTimeout}
	for _, s := range States() {
		for _, e := range events {
			for _, r := range []bool{false, true} {
				got, actions := Transition(s, e, Facts{RetriesLeft: r})
				w, listed := want[key{s, e, r}]
				if !listed {
					if got != s || actions != nil {
						t.Errorf("%s + %s: want no-op, got %s %v", s, e, got, actions)
					}
					continue
				}
				if got != w {
					t.Errorf("%s + %s (retries left %v): got %s, want %s", s, e, r, got, w)
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
	_, a = Transition(Running, EvExit, Facts{})
	if !slices.Contains(a, ActMaybeRestart) || slices.Contains(a, ActCountFailure) {
		t.Errorf("exit after a good run restarts without counting a failure: %v", a)
	}
	_, a = Transition(Stopping, EvStopTimeout, Facts{})
	if !slices.Equal(a, []Action{ActKillGroup}) {
		t.Errorf("stop timeout must kill the group: %v", a)
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
	if want := []string{"cron", "php-fpm", "nginx", "worker"}; !slices.Equal(order, want) {
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
