package supervisor

import (
	"maps"
	"time"
)

// Snapshot is an immutable view of the supervisor, published by the loop
// after every event. Readers (/metrics, /readyz, `ctl status`) never touch
// live program state.
type Snapshot struct {
	Time          time.Time       `json:"time"`
	Programs      []ProgramStatus `json:"programs"`
	OrphansReaped uint64          `json:"orphans_reaped"`
	Stopping      bool            `json:"stopping"`
	Draining      bool            `json:"draining"`
}

// ProgramStatus is one program in a Snapshot.
type ProgramStatus struct {
	Name     string    `json:"name"`
	State    string    `json:"state"`
	PID      int       `json:"pid,omitempty"`
	Critical bool      `json:"critical"`
	Ready    bool      `json:"ready"`
	Since    time.Time `json:"since"`
	// Started is when the current (or last) process started.
	Started  time.Time `json:"started,omitzero"`
	Restarts int       `json:"restarts"`
	Failures int       `json:"failures"`
	// ProbeError is the last readiness probe failure while not ready.
	ProbeError string            `json:"probe_error,omitempty"`
	LastExit   *ExitInfo         `json:"last_exit,omitempty"`
	Exits      map[string]uint64 `json:"exits,omitempty"`
	LastReload *ReloadInfo       `json:"last_reload,omitempty"`
	Reloads    map[string]uint64 `json:"reloads,omitempty"`

	// Group is what ctl also addresses it by (see Select); "" for none.
	Group string `json:"group,omitempty"`
	// OnRequest: an autostart false program that has not been asked to
	// run (or was stopped): /readyz does not wait for it.
	OnRequest bool `json:"on_request,omitempty"`
	// Schedule is set for a scheduled program (schedule.go).
	Schedule *ScheduleStatus `json:"schedule,omitempty"`
}

// ExitInfo is how a program's process ended.
type ExitInfo struct {
	// Code is the shell-style status: exit code, or 128+signal.
	Code int       `json:"code"`
	Desc string    `json:"desc"`
	Time time.Time `json:"time"`
}

// ReloadInfo is the outcome of the last reload attempt.
type ReloadInfo struct {
	Time time.Time `json:"time"`
	// Result is ok, check_failed or signal_failed.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// Program returns the named program's status, or false.
func (sn *Snapshot) Program(name string) (ProgramStatus, bool) {
	for _, p := range sn.Programs {
		if p.Name == name {
			return p, true
		}
	}
	return ProgramStatus{}, false
}

func (s *Supervisor) publish() {
	sn := &Snapshot{
		Time:          s.clock.Now(),
		OrphansReaped: s.orphans,
		Stopping:      s.stopping,
		Draining:      s.draining,
	}
	for _, name := range s.order {
		p := s.progs[name]
		st := ProgramStatus{
			Name:       name,
			State:      p.state.String(),
			Critical:   p.spec.Critical,
			Ready:      p.state == Running && p.ready,
			Since:      p.since,
			Started:    p.started,
			Restarts:   max(p.spawns-1, 0),
			Failures:   p.failures,
			ProbeError: p.probeErr,
			Exits:      maps.Clone(p.exits),
			Reloads:    maps.Clone(p.reloads),
		}
		st.Group = p.spec.Group
		st.OnRequest = p.spec.Manual && p.goal != GoalUp && p.goal != GoalRestart
		if p.alive() {
			st.PID = p.pid
		}
		if p.lastExit != nil {
			e := *p.lastExit
			st.LastExit = &e
		}
		if p.lastReload != nil {
			r := *p.lastReload
			st.LastReload = &r
		}
		p.scheduleStatus(s, &st) // schedule.go
		sn.Programs = append(sn.Programs, st)
	}
	s.snapshot.Store(sn)
}
