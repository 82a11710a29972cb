package supervisor

import (
	"context"
	"time"
)

// probing schedules a program's readiness and liveness probes. An idle
// phpinit must cost no more wakeups than supervisord, and every probe wakes
// the process, and with it the Go runtime's monitor thread (sysmon polls
// every 20 µs while a goroutine runs, then backs off). So readiness is
// probed actively only while the program starts or has missed (after
// each result, the next is scheduled); once it has passed, it is probed
// only when asked (RefreshReadiness: /readyz, /metrics, the HEALTHCHECK),
// at most once per Interval. Liveness runs at its interval, on deadlines
// aligned to the supervisor's epoch so that the probes of every program
// with the same interval fire together: one wakeup for all of them.
//
// Only the loop touches it. Every timer and result carries the program's
// generation, so one from an earlier attempt is a no-op.
type probing struct {
	// flight is the generation of the readiness probe in flight; 0: none.
	flight uint64
	// checked is when the last readiness result arrived.
	checked time.Time
	// began is when the attempt started: probes are fast early on.
	began time.Time
	delay time.Duration
	// stopTimer cancels the next scheduled readiness probe.
	stopTimer func() bool
	// waiters are released when the probe in flight reports.
	waiters []chan struct{}
	// liveMisses counts liveness failures in a row; liveFlight: a
	// liveness probe runs.
	liveMisses int
	liveFlight bool
}

// startReadiness begins a start attempt's readiness probing: at once, then
// every few milliseconds (nextReadinessDelay), so that gating a dependent
// on it costs milliseconds.
func (p *program) startReadiness(s *Supervisor) {
	p.probing.release()
	p.probing = probing{began: s.clock.Now(), delay: firstProbeDelay}
	p.probeReady(s)
}

// probeReady runs one readiness probe unless one of this attempt is in
// flight. Its result comes back to the loop as an event.
func (p *program) probeReady(s *Supervisor) {
	if p.probing.flight == p.gen && p.gen != 0 {
		return
	}
	p.probing.flight = p.gen
	spec, ctx, gen := p.spec.Ready, p.attemptContext(), p.gen
	go func() {
		err := spec.Prober.Probe(ctx)
		s.post(func() { p.readyReported(s, gen, err) })
	}()
}

func (p *program) readyReported(s *Supervisor, gen uint64, err error) {
	if p.probing.flight == gen {
		p.probing.flight = 0
	}
	defer p.probing.release()
	if gen != p.gen {
		return // the attempt ended; its probe was cancelled
	}
	p.probing.checked = s.clock.Now()
	p.readinessResult(s, err)
	switch {
	case p.state == Starting:
		p.probing.delay = nextReadinessDelay(p.probing.delay, err == nil, s.clock.Now().Sub(p.probing.began), p.spec.Ready.Interval)
		p.scheduleReady(s, p.probing.delay)
	case p.state == Running && (err != nil || !p.ready):
		// Missing, or passing but not yet SuccessThreshold times: keep
		// probing until it settles one way or the other.
		p.scheduleReady(s, p.spec.Ready.Interval)
	}
}

// scheduleReady arms the next readiness probe after d, replacing any
// armed one.
func (p *program) scheduleReady(s *Supervisor, d time.Duration) {
	if p.probing.stopTimer != nil {
		p.probing.stopTimer()
	}
	gen := p.gen
	p.probing.stopTimer = s.clock.AfterFunc(d, func() {
		s.post(func() {
			if p.gen == gen {
				p.probeReady(s)
			}
		})
	})
}

// release lets every RefreshReadiness waiting on this program go.
func (pr *probing) release() {
	for _, ch := range pr.waiters {
		close(ch)
	}
	pr.waiters = nil
}

// RefreshReadiness probes the readiness of every RUNNING program whose last
// result is older than its probe's Interval, and waits for the results or
// ctx. The snapshot read afterwards reflects them. /readyz, /metrics and
// thereby `phpinit healthcheck` call it: a program that has passed is not
// probed otherwise.
func (s *Supervisor) RefreshReadiness(ctx context.Context) error {
	var wait []chan struct{}
	err := s.Do(ctx, func() {
		now := s.clock.Now()
		for _, name := range s.order {
			p := s.progs[name]
			if p.spec.Ready == nil || p.state != Running {
				continue
			}
			inFlight := p.probing.flight == p.gen && p.gen != 0
			if !inFlight && now.Sub(p.probing.checked) < p.spec.Ready.Interval {
				continue // fresh enough
			}
			ch := make(chan struct{})
			p.probing.waiters = append(p.probing.waiters, ch)
			wait = append(wait, ch)
			p.probeReady(s)
		}
	})
	if err != nil {
		return err
	}
	for _, ch := range wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			return ErrNotRunning
		}
	}
	return nil
}

// startLiveness restarts a RUNNING program after FailureThreshold misses in
// a row.
func (p *program) startLiveness(s *Supervisor) {
	if p.spec.Live == nil {
		return
	}
	p.probing.liveMisses = 0
	p.scheduleLive(s)
}

func (p *program) scheduleLive(s *Supervisor) {
	gen := p.gen
	d := alignedDelay(s.clock.Now(), s.epoch, p.spec.Live.Interval)
	s.clock.AfterFunc(d, func() {
		s.post(func() {
			if p.gen == gen && p.state == Running {
				p.probeLive(s)
			}
		})
	})
}

func (p *program) probeLive(s *Supervisor) {
	spec, ctx, gen := p.spec.Live, p.attemptContext(), p.gen
	p.probing.liveFlight = true
	go func() {
		err := spec.Prober.Probe(ctx)
		s.post(func() {
			if p.gen == gen {
				p.probing.liveFlight = false
			}
			if p.gen != gen || p.state != Running {
				return
			}
			if err == nil {
				p.probing.liveMisses = 0
				p.scheduleLive(s)
				return
			}
			p.probing.liveMisses++
			if p.probing.liveMisses < spec.FailureThreshold {
				p.scheduleLive(s)
				return
			}
			p.log.Warn("liveness probe failed: restarting", "misses", p.probing.liveMisses, "err", err)
			p.restart(s)
		})
	}()
}

// alignedDelay is the time from now to the next multiple of interval since
// epoch, at least a tenth of interval away (so a probe that just ran is
// not followed by another at once).
func alignedDelay(now, epoch time.Time, interval time.Duration) time.Duration {
	if interval <= 0 {
		interval = time.Second
	}
	d := interval - now.Sub(epoch)%interval
	if d < interval/10 {
		d += interval
	}
	return d
}

// Readiness pace during a start: from 1 ms, doubling, at most
// fastProbeMax apart for the first fastProbeWindow, then at most slowProbeMax
// apart until slowProbeWindow, then up to the interval. Doubling alone (1,
// 2, 4, ... 128 ms) would see php-fpm, ready after 30-150 ms, up to twice
// as late, and gating nginx on it is what start-up time is made of. A
// probe of a socket nobody listens on yet costs one failed connect.
const (
	firstProbeDelay = time.Millisecond / 2
	fastProbeWindow = time.Second
	fastProbeMax    = 5 * time.Millisecond
	slowProbeWindow = 5 * time.Second
	slowProbeMax    = 25 * time.Millisecond
)

// nextReadinessDelay is the wait before the next readiness probe: the
// interval once passing; after a failure, doubling, capped by how long the
// start has taken (see fastProbeMax), never above interval.
func nextReadinessDelay(prev time.Duration, passed bool, sinceStart, interval time.Duration) time.Duration {
	if passed {
		return interval
	}
	next := min(prev*2, interval)
	switch {
	case sinceStart < fastProbeWindow:
		next = min(next, fastProbeMax)
	case sinceStart < slowProbeWindow:
		next = min(next, slowProbeMax)
	}
	return next
}
