package supervisor

import (
	"slices"
	"testing"
	"time"
)

// A start counts once start_seconds pass, on the injected clock.
func TestStartSecondsOnFakeClock(t *testing.T) {
	h := newLoopHarness(t, fakeSpec("web"))
	h.want("web", Starting)
	h.wantPending(2 * time.Second)
	h.advance(2*time.Second - time.Millisecond)
	h.want("web", Starting)
	h.advance(time.Millisecond)
	p := h.want("web", Running)
	if !p.ready || p.failures != 0 {
		t.Errorf("ready %v failures %d", p.ready, p.failures)
	}
}

// Failed starts back off 1s, 2s, 4s (doubling, capped) and then give up.
func TestBackoffOnFakeClock(t *testing.T) {
	h := newLoopHarness(t, fakeSpec("web"))
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		h.exit("web", 1) // before start_seconds: a failed start
		p := h.want("web", Backoff)
		if p.failures != i+1 {
			t.Fatalf("failures %d, want %d", p.failures, i+1)
		}
		h.wantPending(d)
		h.advance(d - time.Millisecond)
		h.want("web", Backoff)
		h.advance(time.Millisecond)
		h.want("web", Starting)
	}
	h.exit("web", 1)
	h.want("web", Fatal)
	if len(h.spawned) != 4 {
		t.Errorf("%d spawns, want 4 (1 + start_retries)", len(h.spawned))
	}
	if len(h.clock.Pending()) != 0 {
		h.advance(time.Hour)
		h.want("web", Fatal)
	}
}

// A timer of an attempt that is over is a no-op: start_seconds of the
// first attempt must not mark the second one ready.
func TestStaleTimerOnFakeClock(t *testing.T) {
	h := newLoopHarness(t, fakeSpec("web"))
	h.advance(time.Second)
	h.exit("web", 1)
	h.advance(time.Second) // backoff done: second attempt starts
	h.want("web", Starting)
	h.advance(time.Second) // the first attempt's start_seconds would be due
	h.want("web", Starting)
	h.advance(time.Second)
	h.want("web", Running)
}

// Stop sends the stop signal, and SIGKILL to the group after stop_timeout.
func TestStopTimeoutOnFakeClock(t *testing.T) {
	h := newLoopHarness(t, fakeSpecNoDelay("web"))
	p := h.want("web", Running)
	p.wantDown() // as ctl stop does
	p.apply(h.s, EvStop)
	h.settle()
	h.want("web", Stopping)
	if !slices.Equal(h.kills, []string{"TERM"}) {
		t.Fatalf("signals %v, want TERM", h.kills)
	}
	h.wantPending(5 * time.Second)
	h.advance(5*time.Second - time.Millisecond)
	if len(h.kills) != 1 {
		t.Fatalf("signals %v before stop_timeout", h.kills)
	}
	h.advance(time.Millisecond)
	if !slices.Contains(h.kills, "KILL") {
		t.Fatalf("signals %v, want KILL after stop_timeout", h.kills)
	}
	h.want("web", Stopping)
	h.exit("web", -9)
	h.want("web", Stopped)
}

// stop_as_group: the stop signal goes to the process group, not the pid.
func TestStopAsGroupSignalsTheGroup(t *testing.T) {
	for _, group := range []bool{false, true} {
		spec := fakeSpecNoDelay("web")
		spec.StopAsGroup = group
		h := newLoopHarness(t, spec)
		p := h.want("web", Running)
		p.wantDown()
		p.apply(h.s, EvStop)
		h.settle()
		want := p.pid
		if group {
			want = -p.pgid
		}
		if !slices.Equal(h.kills, []string{"TERM"}) || !slices.Equal(h.targets, []int{want}) {
			t.Errorf("stop_as_group %v: signals %v to %v, want TERM to %d", group, h.kills, h.targets, want)
		}
	}
}

// The graceful stop of everything kills what is left once grace runs out.
func TestGraceOnFakeClock(t *testing.T) {
	sp := fakeSpecNoDelay("web")
	sp.StopTimeout = time.Minute
	h := newLoopHarness(t, sp)
	h.s.opts.Grace = 3 * time.Second
	h.s.requestStop(0, "test")
	h.settle()
	h.want("web", Stopping)
	h.advance(3 * time.Second)
	if !slices.Contains(h.kills, "KILL") {
		t.Fatalf("signals %v, want KILL once grace ran out", h.kills)
	}
	h.exit("web", -9)
	h.want("web", Stopped)
	if !h.s.finished {
		t.Error("stop did not finish once everything was down")
	}
}

// With shutdown.drain, programs keep running through the drain and stop
// once it has passed.
func TestDrainOnFakeClock(t *testing.T) {
	h := newLoopHarness(t, fakeSpecNoDelay("web"))
	h.s.opts.Drain = 2 * time.Second
	h.s.requestStop(0, "test")
	h.settle()
	h.want("web", Running)
	h.wantPending(2 * time.Second)
	h.advance(2*time.Second - time.Millisecond)
	h.want("web", Running)
	h.advance(time.Millisecond)
	h.want("web", Stopping)
	h.exit("web", -15)
	if !h.s.finished {
		t.Error("stop did not finish after the drain")
	}
}
