package supervisor

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/phpinit/phpinit/internal/schedule"
)

// A scheduled program (ProgramSpec.Schedule set) runs at each tick of its
// schedule instead of all the time. It goes through the same lifecycle as
// any program (spawn, stop signal and stop_timeout, group cleanup), with
// three differences made here: it is not started at boot, a run that ends
// is over whatever its status (never Backoff, never FATAL, never
// restarted), and its goal is GoalUp only while a run is wanted.

// Results of a scheduled program's runs, the result label of
// phpinit_schedule_runs_total.
const (
	RunOK      = "ok"
	RunFailed  = "failed"
	RunSkipped = "skipped"
)

// StateScheduled is how a scheduled program shows between its runs (its
// lifecycle state is then STOPPED or EXITED).
const StateScheduled = "SCHEDULED"

// ScheduleStatus is a scheduled program's part of ProgramStatus.
type ScheduleStatus struct {
	// Expr is the cron expression as configured.
	Expr string `json:"expr"`
	// Next is when the next tick is due; zero when none is (phpinit is
	// stopping, or the expression matches no time any more).
	Next time.Time `json:"next_run,omitzero"`
	// LastRun is when the last finished run started; zero before one.
	LastRun time.Time `json:"last_run,omitzero"`
	// LastResult is ok or failed (exit status 0 or not) for that run.
	LastResult string `json:"last_result,omitempty"`
	// LastStatus is how that run ended.
	LastStatus *ExitInfo `json:"last_status,omitempty"`
	// Runs counts runs by result: ok, failed, and skipped for a tick that
	// came while a run still lasted.
	Runs map[string]uint64 `json:"runs"`
}

// scheduled is the loop's record of a program's schedule.
type scheduled struct {
	sched *schedule.Schedule
	// gen invalidates the armed tick when the schedule changes.
	gen  uint64
	next time.Time
	// running: a run started and has not ended yet.
	running    bool
	runStart   time.Time
	lastRun    time.Time
	lastResult string
	lastStatus *ExitInfo
	runs       map[string]uint64
}

// armSchedules gives every scheduled program its first tick instead of a
// start; Run calls it with startAll.
func (s *Supervisor) armSchedules() {
	for _, name := range s.order {
		p := s.progs[name]
		s.armSchedule(p, p.spec.Schedule)
	}
}

// armSchedule makes p wait for the first tick of sched (nil: p has no
// schedule) instead of starting.
func (s *Supervisor) armSchedule(p *program, sched *schedule.Schedule) {
	if sched == nil {
		return
	}
	if p.goal == GoalUp || p.goal == GoalRestart {
		p.goal = GoalDown
	}
	p.sched = &scheduled{sched: sched, runs: map[string]uint64{RunOK: 0, RunFailed: 0, RunSkipped: 0}}
	s.planTick(p, s.clock.Now())
}

// planTick arms p's next tick, the first one after the time given.
func (s *Supervisor) planTick(p *program, after time.Time) {
	sc := p.sched
	sc.gen++
	sc.next = sc.sched.Next(after)
	if sc.next.IsZero() {
		p.log.Warn("schedule matches no time any more: no further runs", "schedule", sc.sched.String())
		return
	}
	s.armTick(p, sc, sc.next)
}

func (s *Supervisor) armTick(p *program, sc *scheduled, at time.Time) {
	gen := sc.gen
	s.clock.AfterFunc(at.Sub(s.clock.Now()), func() {
		s.post(func() {
			if p.sched == sc && sc.gen == gen && s.progs[p.spec.Name] == p {
				s.tick(p, at)
			}
		})
	})
}

// tick handles the tick planned for at: start a run, or skip it while the
// last one still lasts.
func (s *Supervisor) tick(p *program, at time.Time) {
	sc := p.sched
	if s.stopping || s.draining || p.goal == GoalRemove {
		sc.next = time.Time{}
		return
	}
	run, next := sc.sched.Fired(at, s.clock.Now())
	sc.gen++
	sc.next = next
	if next.IsZero() {
		p.log.Warn("schedule matches no time any more: no further runs", "schedule", sc.sched.String())
	} else {
		s.armTick(p, sc, next)
	}
	if !run {
		return
	}
	switch {
	case !p.down() || p.goal != GoalDown:
		sc.runs[RunSkipped]++
		p.log.Warn("schedule tick skipped: the last run still lasts", "pid", p.pid, "since", sc.runStart, "skipped", sc.runs[RunSkipped])
	case !s.depsRunning(p):
		sc.runs[RunSkipped]++
		p.log.Warn("schedule tick skipped: a dependency is not running", "depends_on", p.spec.DependsOn, "skipped", sc.runs[RunSkipped])
	default:
		p.goal = GoalUp
		p.apply(s, EvStart)
	}
}

// scheduledStep adapts a transition of a scheduled program (see the top of
// this file) and keeps the record of its runs. Any other program's
// transition passes unchanged.
func (p *program) scheduledStep(s *Supervisor, from, to State, actions []Action) (State, []Action) {
	sc := p.sched
	if sc == nil {
		return to, actions
	}
	to, actions = runTransition(to, actions)
	switch {
	case to == Starting && from != Starting:
		sc.running, sc.runStart = true, s.clock.Now()
	case sc.running && (to == Stopped || to == Exited):
		sc.running = false
		p.endRun(s)
		if p.goal == GoalUp {
			p.goal = GoalDown
		}
	}
	return to, actions
}

// runTransition is the lifecycle's transition to, with its actions, for a
// scheduled program: a failed start ends the run (EXITED, not BACKOFF or
// FATAL), and nothing counts failures or restarts.
func runTransition(to State, actions []Action) (State, []Action) {
	if to == Backoff || to == Fatal {
		to = Exited
	}
	kept := make([]Action, 0, len(actions))
	for _, a := range actions {
		switch a {
		case ActCountFailure, ActScheduleBackoff, ActRestart, ActScheduleThrottle:
			continue
		}
		kept = append(kept, a)
	}
	return to, kept
}

// endRun records how the run that just ended went.
func (p *program) endRun(s *Supervisor) {
	sc := p.sched
	sc.lastRun, sc.lastResult = sc.runStart, RunFailed
	sc.lastStatus = nil
	if p.lastExit != nil {
		e := *p.lastExit
		sc.lastStatus = &e
		if e.Code == 0 {
			sc.lastResult = RunOK
		}
	}
	sc.runs[sc.lastResult]++
	lvl := slog.LevelInfo
	if sc.lastResult != RunOK {
		lvl = slog.LevelWarn
	}
	p.log.Log(context.Background(), lvl, "scheduled run finished", "result", sc.lastResult, "status", p.lastExitDesc(),
		"duration", s.clock.Now().Sub(sc.runStart).Round(time.Millisecond), "next_run", sc.next)
}

// reschedule applies a changed spec to a program when a schedule is
// involved, and reports whether it did; false leaves the change to the
// usual restart. A changed schedule takes effect at once, and a run in
// progress goes on with the spec it started with.
func (s *Supervisor) reschedule(p *program, spec ProgramSpec) bool {
	switch {
	case spec.Schedule == nil:
		// No schedule any more: it becomes a program that runs all the time.
		p.sched = nil
		return false
	case p.sched == nil:
		// A program that ran all the time is stopped and waits for ticks.
		p.nextSpec = &spec
		p.failures = 0
		p.wantDown()
		if !p.down() {
			p.apply(s, EvStop)
		}
		s.armSchedule(p, spec.Schedule)
	default:
		p.nextSpec = &spec
		p.sched.sched = spec.Schedule
		s.planTick(p, s.clock.Now())
	}
	p.log.Info("scheduled", "schedule", spec.Schedule.String(), "next_run", p.sched.next)
	return true
}

// scheduleStatus fills a scheduled program's part of its status.
func (p *program) scheduleStatus(s *Supervisor, st *ProgramStatus) {
	sc := p.sched
	if sc == nil {
		return
	}
	st.Schedule = &ScheduleStatus{
		Expr:       sc.sched.String(),
		Next:       sc.next,
		LastRun:    sc.lastRun,
		LastResult: sc.lastResult,
		Runs:       maps.Clone(sc.runs),
	}
	if sc.lastStatus != nil {
		e := *sc.lastStatus
		st.Schedule.LastStatus = &e
	}
	if p.idle() && !sc.next.IsZero() && !s.stopping {
		st.State = StateScheduled
	}
	// Each run is a start, not a restart.
	st.Restarts = 0
}
