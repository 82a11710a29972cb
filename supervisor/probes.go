package supervisor

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/phpinit/phpinit/internal/probe"
)

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
