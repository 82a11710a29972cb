package supervisor

import (
	"context"
	"slices"
)

// UpdateResult says what an Update changed.
type UpdateResult struct {
	Added, Removed, Changed []string
}

// Update replaces the program set, the way a changed phpinit.yaml asks:
// new programs start, removed ones stop and are forgotten, programs whose
// Fingerprint changed restart with their new spec, and the rest keep
// running untouched (same PIDs). Safe from any goroutine.
func (s *Supervisor) Update(ctx context.Context, specs []ProgramSpec) (UpdateResult, error) {
	var res UpdateResult
	order, err := dependencyOrder(specs)
	if err != nil {
		return res, err
	}
	if specs, err = s.withProbers(specs); err != nil {
		return res, err
	}
	var uerr error
	if err := s.Do(ctx, func() { res, uerr = s.update(specs, order) }); err != nil {
		return res, err
	}
	return res, uerr
}

// update applies a new program set on the loop; order is specs' dependency
// order.
func (s *Supervisor) update(specs []ProgramSpec, order []string) (UpdateResult, error) {
	var res UpdateResult
	if s.stopping || s.draining {
		return res, errStopping
	}
	wanted := map[string]bool{}
	for _, spec := range specs {
		wanted[spec.Name] = true
		p, ok := s.progs[spec.Name]
		switch {
		case !ok || p.goal == GoalRemove:
			if ok {
				// Removed and re-added before it was gone: start
				// it again with the new spec once it is down.
				p.goal = GoalDown
				p.nextSpec = &spec
				p.restart(s)
			} else {
				np := s.newProgram(spec)
				if !spec.Manual {
					np.goal = GoalUp
				}
				s.progs[spec.Name] = np
			}
			s.armSchedule(s.progs[spec.Name], spec.Schedule) // schedule.go
			res.Added = append(res.Added, spec.Name)
		case p.spec.Fingerprint != spec.Fingerprint:
			res.Changed = append(res.Changed, spec.Name)
			if (p.sched != nil || spec.Schedule != nil) && s.reschedule(p, spec) {
				break // schedule.go: no restart
			}
			p.nextSpec = &spec
			p.failures = 0
			if spec.Manual && p.goal == GoalDown && p.down() {
				// Not asked to run: a changed definition is no request.
				p.takeNextSpec(s)
			} else {
				p.restart(s)
			}
		}
	}
	var removing []string
	for _, name := range s.order {
		p := s.progs[name]
		if wanted[name] {
			continue
		}
		if p.goal != GoalRemove {
			res.Removed = append(res.Removed, name)
			p.goal = GoalRemove
			p.apply(s, EvStop)
		}
		removing = append(removing, name)
	}
	s.order = append(order, removing...)
	s.forgetRemoved()
	return res, nil
}

// forgetRemoved drops removed programs once nothing of them runs.
func (s *Supervisor) forgetRemoved() {
	s.order = slices.DeleteFunc(s.order, func(name string) bool {
		p := s.progs[name]
		if p.goal != GoalRemove || !p.down() {
			return false
		}
		p.log.Info("removed")
		go p.closeSinks(s.log)
		delete(s.progs, name)
		return true
	})
}

// takeNextSpec swaps in a changed spec while the program is down. Its
// output sinks reopen on the next start, since their mode may have changed.
func (p *program) takeNextSpec(s *Supervisor) {
	if p.nextSpec == nil {
		return
	}
	old := *p
	p.spec = *p.nextSpec
	p.nextSpec = nil
	p.log = s.log.With("program", p.spec.Name)
	if old.stdout != nil || old.stderr != nil {
		go old.closeSinks(s.log)
	}
	p.stdout, p.stderr = nil, nil
}
