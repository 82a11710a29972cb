package supervisor

import (
	"slices"
	"time"
)

// backoffDelay is the wait before start attempt number failures+1: initial
// doubled per failure, capped at max, then spread by ±10% jitter so that
// programs failing together do not retry in lockstep. rnd returns a value in
// [0,1).
func backoffDelay(failures int, initial, max time.Duration, rnd func() float64) time.Duration {
	if failures < 1 {
		failures = 1
	}
	d := initial
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := (rnd()*0.2 - 0.1) * float64(d)
	return d + time.Duration(jitter)
}

// minStableRun is the shortest run that ends a failure streak, and the
// least time between two starts of a program (s6-supervise's throttle):
// with start_seconds 0, a program exiting at once restarted 828 times a
// second, always shown RUNNING.
const minStableRun = time.Second

// stableRun is how long a run must last for its exit to be a planned one
// rather than a failed start.
func (p *program) stableRun() time.Duration { return max(p.spec.StartSeconds, minStableRun) }

// throttleLeft is how long the next start must wait to keep starts at
// least minStableRun apart.
func (p *program) throttleLeft(s *Supervisor) time.Duration {
	if p.attempted.IsZero() {
		return 0
	}
	return max(p.attempted.Add(minStableRun).Sub(s.clock.Now()), 0)
}

// facts gathers what Transition needs to know about p.
func (p *program) facts(s *Supervisor) Facts {
	now := s.clock.Now()
	f := Facts{
		RetriesLeft: p.failures+1 <= p.spec.StartRetries,
		Throttled:   p.throttleLeft(s) > 0,
		Restart:     !s.stopping && !s.draining && p.goal == GoalUp && p.policyRestarts(),
		ShortRun:    now.Sub(p.started) < p.stableRun(),
		StartFailed: p.startTimedOut && p.goal == GoalUp && !s.stopping && !s.draining,
		CheckOnFail: p.checkAfterFailure(s),
	}
	if p.sched != nil {
		// A scheduled run starts at its tick and is never restarted
		// (schedule.go).
		f.Throttled, f.Restart = false, false
	}
	return f
}

// policyRestarts: the autorestart policy restarts after the last exit.
func (p *program) policyRestarts() bool {
	switch p.spec.Restart {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return p.exitStatus.Signaled() || p.exitStatus.ExitStatus() != 0
	case RestartUnexpected:
		return !p.expectedExit()
	}
	return false
}

// expectedExit: the last exit status is one of ExitCodes (default [0]).
func (p *program) expectedExit() bool {
	if p.exitStatus.Signaled() {
		return false
	}
	codes := p.spec.ExitCodes
	if codes == nil {
		codes = []int{0}
	}
	return slices.Contains(codes, p.exitStatus.ExitStatus())
}

// ended handles a program that ended on its own and is not restarted: it
// stays down, and a critical one stops phpinit.
func (p *program) ended(s *Supervisor) {
	p.wantDown()
	if p.spec.Critical && !s.stopping && !s.draining {
		p.log.Info("critical program ended and is not restarted: stopping")
		s.requestStop(p.exitCode(), p.spec.Name+" ended")
	}
}
