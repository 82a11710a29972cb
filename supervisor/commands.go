package supervisor

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/hashicorp/go-multierror"
)

// ErrUnknownProgram is returned for a name that is not configured.
var ErrUnknownProgram = errors.New("unknown program")

// ErrNotRunning is returned when the supervision loop has finished.
var ErrNotRunning = errors.New("phpinit is not running")

// Start starts a program (or "all") and returns once it is RUNNING, or
// failed to get there. A program waiting for a dependency that nothing
// will start (stopped, FATAL) fails at once, naming it. Safe from any
// goroutine.
func (s *Supervisor) Start(ctx context.Context, name string) error {
	return s.each(ctx, name, func(p *program, reply chan<- error) {
		switch {
		case s.stopping || s.draining:
			reply <- errStopping
			return
		case p.state == Running:
			reply <- nil
			return
		case p.goal == GoalRemove:
			reply <- fmt.Errorf("%s was removed from the config", p.spec.Name)
			return
		case p.idle():
			if err := s.blocked(p); err != nil {
				reply <- err
				return
			}
			p.failures = 0
			p.goal = GoalUp
		case p.state == Stopping && p.goal == GoalDown:
			p.goal = GoalRestart
		}
		p.waiters = append(p.waiters, waiter{check: untilRunning, reply: reply})
	})
}

// Stop stops a program (or "all") and returns once nothing of it runs.
// Programs that depend on it keep running. A start or restart waiting for
// it returns with an error.
func (s *Supervisor) Stop(ctx context.Context, name string) error {
	return s.each(ctx, name, func(p *program, reply chan<- error) {
		p.wantDown()
		if p.down() {
			reply <- nil
			s.notifyWaiters()
			return
		}
		p.waiters = append(p.waiters, waiter{check: untilDown, reply: reply})
		p.apply(s, EvStop)
	})
}

// Restart stops a program (or "all") and starts it again, returning once it
// is RUNNING or failed to get there.
func (s *Supervisor) Restart(ctx context.Context, name string) error {
	return s.each(ctx, name, func(p *program, reply chan<- error) {
		if s.stopping || s.draining {
			reply <- errStopping
			return
		}
		if p.goal == GoalRemove {
			reply <- fmt.Errorf("%s was removed from the config", p.spec.Name)
			return
		}
		p.failures = 0
		p.waiters = append(p.waiters, waiter{check: afterRestart(p.spawns), reply: reply})
		p.restart(s)
		s.notifyWaiters()
	})
}

// Reload checks and reloads a program ("" or "all": every program with a
// reload signal). The error carries a failed check's output.
func (s *Supervisor) Reload(ctx context.Context, name string) error {
	if name == "" {
		name = "all"
	}
	return s.each(ctx, name, func(p *program, reply chan<- error) {
		switch {
		case p.spec.ReloadSignal == 0 && !p.spec.OnChangeRestart:
			if name == "all" {
				reply <- nil
			} else {
				reply <- fmt.Errorf("%s has no reload_signal", p.spec.Name)
			}
		case name == "all" && (p.state == Stopped || p.state == Exited):
			// It reads its config when it starts.
			reply <- nil
		default:
			s.reloadProgram(p, func(err error) { reply <- err })
		}
	})
}

// Signal sends sig to a program's main process (or every program's).
func (s *Supervisor) Signal(ctx context.Context, name string, sig syscall.Signal) error {
	return s.each(ctx, name, func(p *program, reply chan<- error) {
		reply <- s.sendSignal(p, sig)
	})
}

// Ping returns once the loop has handled an event: /healthz uses it to tell
// that supervision is responsive.
func (s *Supervisor) Ping(ctx context.Context) error {
	return s.Do(ctx, func() {})
}

// each runs fn on the loop for the named program, every program of the
// named group, or every program for "all" (see Select), and gathers the
// replies.
func (s *Supervisor) each(ctx context.Context, name string, fn func(p *program, reply chan<- error)) error {
	var replies []chan error
	var setupErr error
	err := s.Do(ctx, func() {
		names, err := Select(s.members(), name)
		if err != nil {
			setupErr = err
			return
		}
		for _, n := range names {
			ch := make(chan error, 1)
			replies = append(replies, ch)
			fn(s.progs[n], ch)
		}
	})
	if err != nil {
		return err
	}
	if setupErr != nil {
		return setupErr
	}
	var errs *multierror.Error
	for _, ch := range replies {
		select {
		case e := <-ch:
			if e != nil {
				errs = multierror.Append(errs, e)
			}
		case <-s.quit:
			return ErrNotRunning
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if errs == nil {
		return nil
	}
	if len(errs.Errors) == 1 {
		return errs.Errors[0]
	}
	return errs
}
