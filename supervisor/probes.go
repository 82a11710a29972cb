package supervisor

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/phpinit/phpinit/internal/probe"
)

// startReadiness probes a STARTING program every few milliseconds, backing
// off to the probe's interval, so readiness gating costs milliseconds; once
// it has passed it keeps probing at the interval to keep `ready` current.
func (p *program) startReadiness(s *Supervisor) {
	spec := p.spec.Ready
	ctx := p.attemptContext()
	gen := p.gen
	go func() {
		delay := 5 * time.Millisecond
		began := time.Now()
		streak := 0 // passes in a row
		for {
			err := probeOnce(ctx, spec)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				streak++
			} else {
				streak = 0
			}
			// Once SuccessThreshold passes in a row made it ready, further
			// passes change nothing: not waking the loop for them keeps an
			// idle phpinit's wakeups down to the probes themselves.
			if streak <= spec.SuccessThreshold {
				s.post(func() {
					if p.gen == gen {
						p.readinessResult(s, err)
					}
				})
			}
			delay = nextReadinessDelay(delay, err == nil, time.Since(began), spec.Interval)
			if !sleepCtx(ctx, delay) {
				return
			}
		}
	}()
}

// fastProbeWindow is how long after a start readiness is probed at least
// every fastProbeMax: doubling alone (5, 10, 20, 40, 80, 160 ms) would see
// php-fpm, ready after ~140 ms, only at 155 or 315 ms.
const (
	fastProbeWindow = 5 * time.Second
	fastProbeMax    = 25 * time.Millisecond
)

// nextReadinessDelay is the wait before the next readiness probe: the
// interval once passing; after a failure, doubling from 5 ms, capped at
// fastProbeMax within fastProbeWindow of the start, at interval after.
func nextReadinessDelay(prev time.Duration, passed bool, sinceStart, interval time.Duration) time.Duration {
	if passed {
		return interval
	}
	next := min(prev*2, interval)
	if sinceStart < fastProbeWindow {
		next = min(next, fastProbeMax)
	}
	return next
}

// notReadyFirst is when a start that is not ready yet is first logged;
// the gap to the next line doubles from it.
const notReadyFirst = 3 * time.Second

func (p *program) readinessResult(s *Supervisor, err error) {
	if err != nil {
		p.probePasses = 0
		p.probeMisses++
		p.probeErr = err.Error()
		if p.state == Running && p.ready && p.probeMisses >= p.spec.Ready.FailureThreshold {
			p.ready = false
			p.log.Warn("not ready", "err", err)
		}
		if now := s.clock.Now(); p.state == Starting && !now.Before(p.notReadyLog) {
			p.log.Warn("not ready yet", "after", now.Sub(p.started).Round(time.Second),
				"start_timeout", p.spec.Ready.StartTimeout, "err", err)
			p.notReadyLog = now.Add(p.notReadyGap)
			p.notReadyGap *= 2
		}
		return
	}
	p.probeMisses = 0
	p.probePasses++
	if p.probePasses < p.spec.Ready.SuccessThreshold {
		return
	}
	p.probeErr = ""
	switch {
	case p.state == Starting:
		p.apply(s, EvReady)
	case p.state == Running && !p.ready:
		p.ready = true
		p.log.Info("ready again")
	}
}

// startLiveness restarts a RUNNING program after FailureThreshold misses in
// a row.
func (p *program) startLiveness(s *Supervisor) {
	spec := p.spec.Live
	if spec == nil {
		return
	}
	ctx := p.attemptContext()
	gen := p.gen
	go func() {
		misses := 0
		for sleepCtx(ctx, spec.Interval) {
			err := probeOnce(ctx, spec)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				misses = 0
				continue
			}
			misses++
			if misses < spec.FailureThreshold {
				continue
			}
			s.post(func() {
				if p.gen == gen && p.state == Running {
					p.log.Warn("liveness probe failed: restarting", "misses", misses, "err", err)
					p.restart(s)
				}
			})
			return
		}
	}()
}

// attemptContext is cancelled when the current start attempt ends.
func (p *program) attemptContext() context.Context {
	if p.probeCtx == nil {
		p.probeCtx, p.cancelProbe = context.WithCancel(context.Background())
	}
	return p.probeCtx
}

// withProbers returns specs with every probe's Prober built from its Probe,
// exec probes forking through s. The caller's specs are not changed.
func (s *Supervisor) withProbers(specs []ProgramSpec) ([]ProgramSpec, error) {
	out := slices.Clone(specs)
	for i := range out {
		for _, ps := range []**ProbeSpec{&out[i].Ready, &out[i].Live} {
			if *ps == nil || (*ps).Prober != nil {
				continue
			}
			c := **ps
			c.Probe.Forker = s
			pr, err := probe.New(c.Probe)
			if err != nil {
				return nil, fmt.Errorf("program %s: %w", out[i].Name, err)
			}
			c.Prober = pr
			*ps = &c
		}
	}
	return out, nil
}

func probeOnce(ctx context.Context, spec *ProbeSpec) error {
	return spec.Prober.Probe(ctx)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
