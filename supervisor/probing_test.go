package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// countingProber passes or fails as told and counts its probes.
type countingProber struct {
	mu  sync.Mutex
	err error
	n   int
}

func (c *countingProber) Probe(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.err
}

func (c *countingProber) set(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

func (c *countingProber) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// until pumps the loop's events (probe results come from helper
// goroutines) until cond holds.
func (h *loopHarness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.settle()
		if cond() {
			return
		}
		select {
		case fn := <-h.s.events:
			fn()
		case <-deadline:
			h.t.Fatalf("never %s", what)
		}
	}
}

// probed waits until p has been asked n times and its result handled.
func (h *loopHarness) probed(p *countingProber, n int) {
	h.t.Helper()
	h.until(fmt.Sprintf("%d probes", n), func() bool {
		return p.count() >= n && !h.inFlight()
	})
	if got := p.count(); got != n {
		h.t.Fatalf("%d probes, want %d", got, n)
	}
}

// inFlight: a readiness or liveness probe's result is still to come.
func (h *loopHarness) inFlight() bool {
	for _, p := range h.s.progs {
		if p.probing.flight != 0 || p.probing.liveFlight {
			return true
		}
	}
	return false
}

// refresh runs RefreshReadiness against the harness's loop, pumping its
// events until it returns.
func (h *loopHarness) refresh() {
	h.t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.s.RefreshReadiness(context.Background()) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				h.t.Fatalf("refresh: %v", err)
			}
			h.settle()
			return
		case fn := <-h.s.events:
			fn()
			h.settle()
		case <-time.After(10 * time.Second):
			h.t.Fatal("refresh did not return")
		}
	}
}

func probedSpec(ready, live *countingProber) ProgramSpec {
	sp := fakeSpec("php-fpm")
	sp.Ready = &ProbeSpec{Prober: ready, Interval: time.Second, FailureThreshold: 3, SuccessThreshold: 1}
	if live != nil {
		sp.Live = &ProbeSpec{Prober: live, Interval: 10 * time.Second, FailureThreshold: 2, SuccessThreshold: 1}
	}
	return sp
}

// Once ready, readiness is probed only when asked, at most once per
// interval; a miss makes it probe actively until it settles.
func TestReadinessOnDemand(t *testing.T) {
	ready := &countingProber{err: errors.New("connection refused")}
	h := newLoopHarness(t, probedSpec(ready, nil))
	h.probed(ready, 1) // the first probe, at the start: refused
	h.want("php-fpm", Starting)
	h.wantPending(time.Millisecond)
	ready.set(nil)
	h.advance(time.Millisecond)
	h.probed(ready, 2)
	h.want("php-fpm", Running)

	// Passing and nobody asks: no probe at all.
	h.advance(time.Minute)
	h.probed(ready, 2)
	h.refresh()
	h.probed(ready, 3) // the result was stale
	h.refresh()
	h.probed(ready, 3) // fresh: cached

	// A miss on demand: still ready (1 of 3), and probed every interval
	// until FailureThreshold misses make it not ready.
	ready.set(errors.New("timed out"))
	h.advance(2 * time.Second)
	h.refresh()
	if sn, _ := h.s.Snapshot().Program("php-fpm"); !sn.Ready {
		t.Fatal("not ready after one miss; want ready until 3")
	}
	for i := range 2 {
		h.wantPending(time.Second)
		h.advance(time.Second)
		h.probed(ready, 5+i)
	}
	if sn, _ := h.s.Snapshot().Program("php-fpm"); sn.Ready || sn.ProbeError == "" {
		t.Fatalf("after 3 misses: %+v, want not ready with the probe's error", sn)
	}
	ready.set(nil)
	h.advance(time.Second)
	h.probed(ready, 7)
	if sn, _ := h.s.Snapshot().Program("php-fpm"); !sn.Ready {
		t.Fatal("not ready again after a pass")
	}
	h.advance(time.Minute)
	h.probed(ready, 7) // settled: no more
}

// Liveness probes at its interval and restarts after FailureThreshold
// misses in a row.
func TestLivenessRestartsAfterMisses(t *testing.T) {
	ready, live := &countingProber{}, &countingProber{}
	h := newLoopHarness(t, probedSpec(ready, live))
	h.probed(ready, 1)
	h.want("php-fpm", Running)
	h.advance(10 * time.Second)
	h.probed(live, 1)
	live.set(errors.New("timed out"))
	h.advance(10 * time.Second)
	h.probed(live, 2)
	h.want("php-fpm", Running) // 1 of 2
	h.advance(10 * time.Second)
	h.probed(live, 3)
	h.want("php-fpm", Stopping)
	h.probed(ready, 1) // at the start only
}
