package supervisor

import (
	"errors"
	"fmt"
)

// waiter finishes a synchronous request (`ctl start`, `ctl stop`) once the
// program reaches the state it asked for, or cannot: a request never waits
// for something nothing will make happen.
type waiter struct {
	check func(s *Supervisor, p *program) (done bool, err error)
	reply chan<- error
}

// notifyWaiters answers the waiters that are done, of every program: a
// program's start can end with another's state (a dependency stopped).
func (s *Supervisor) notifyWaiters() {
	for _, p := range s.progs {
		if len(p.waiters) > 0 {
			p.notifyWaiters(s)
		}
	}
}

func (p *program) notifyWaiters(s *Supervisor) {
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		done, err := w.check(s, p)
		if !done {
			kept = append(kept, w)
			continue
		}
		w.reply <- err
	}
	p.waiters = kept
}

// untilRunning is done when the program runs, or will not: FATAL, stopped
// or ended meanwhile, phpinit stopping, or waiting for a dependency that
// nothing will start.
func untilRunning(s *Supervisor, p *program) (bool, error) {
	switch {
	case p.state == Running:
		return true, nil
	case p.state == Fatal:
		return true, fmt.Errorf("%s is FATAL: %s", p.spec.Name, p.lastExitDesc())
	case s.stopping || s.draining:
		return true, errStopping
	case p.goal == GoalRemove:
		return true, fmt.Errorf("%s was removed from the config", p.spec.Name)
	case p.goal == GoalDown && p.state == Exited:
		return true, fmt.Errorf("%s ended: %s", p.spec.Name, p.lastExitDesc())
	case p.goal == GoalDown:
		return true, fmt.Errorf("%s was stopped meanwhile", p.spec.Name)
	}
	if p.idle() {
		if err := s.blocked(p); err != nil {
			return true, err
		}
	}
	return false, nil
}

// untilDown is done when nothing of the program runs.
func untilDown(_ *Supervisor, p *program) (bool, error) { return p.down(), nil }

// afterRestart is done once a spawn newer than the one counted is RUNNING,
// or once the restart cannot happen (stopped meanwhile, ...).
func afterRestart(spawns int) func(s *Supervisor, p *program) (bool, error) {
	return func(s *Supervisor, p *program) (bool, error) {
		if p.spawns == spawns && (p.goal == GoalUp || p.goal == GoalRestart) && !s.stopping && !s.draining {
			if err := s.blocked(p); err != nil && p.idle() {
				return true, err
			}
			return false, nil
		}
		return untilRunning(s, p)
	}
}

// blocked says why p cannot start: a dependency is not running and
// nothing will start it (stopped, FATAL, ended, removed). `ctl start nginx`
// with php-fpm stopped fails at once with this rather than waiting.
func (s *Supervisor) blocked(p *program) error {
	for _, d := range p.spec.DependsOn {
		q, ok := s.progs[d]
		if !ok || q.goal == GoalRemove {
			return fmt.Errorf("cannot start %s: it depends on %s, which is not configured", p.spec.Name, d)
		}
		if q.state != Running && q.goal == GoalDown {
			return fmt.Errorf("cannot start %s: waiting for %s, which is %s (phpinit ctl start %s starts it)",
				p.spec.Name, d, q.state, d)
		}
	}
	return nil
}

func (p *program) lastExitDesc() string {
	if p.lastExit == nil {
		return "no exit recorded"
	}
	return p.lastExit.Desc
}

// restart stops the program and starts it again once it is down.
func (p *program) restart(s *Supervisor) {
	if p.down() {
		p.takeNextSpec(s)
		p.goal = GoalUp
		return
	}
	p.goal = GoalRestart
	p.apply(s, EvStop)
}

var errStopping = errors.New("phpinit is stopping")
