package supervisor

import (
	"errors"
	"fmt"
)

// waiter finishes a synchronous request (`ctl start`, `ctl stop`) once the
// program reaches the state it asked for, or cannot.
type waiter struct {
	check func(p *program) (done bool, err error)
	reply chan<- error
}

func (p *program) notifyWaiters() {
	kept := p.waiters[:0]
	for _, w := range p.waiters {
		done, err := w.check(p)
		if !done {
			kept = append(kept, w)
			continue
		}
		w.reply <- err
	}
	p.waiters = kept
}

// untilRunning is done when the program runs, or failed to.
func untilRunning(p *program) (bool, error) {
	switch p.state {
	case Running:
		return true, nil
	case Fatal:
		return true, fmt.Errorf("%s is FATAL: %s", p.spec.Name, p.lastExitDesc())
	case Exited, Stopped:
		if p.goal != GoalUp && p.goal != GoalRestart {
			return true, fmt.Errorf("%s ended: %s", p.spec.Name, p.lastExitDesc())
		}
	}
	return false, nil
}

// untilDown is done when nothing of the program runs.
func untilDown(p *program) (bool, error) { return p.down(), nil }

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
