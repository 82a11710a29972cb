package supervisor

// Goal is what a program should be doing. Requests (ctl, Update, phpinit's
// stop) set it; the loop's reconcile moves the program towards it, and the
// Transition table moves it between states.
type Goal int

const (
	// GoalDown: stay down (stopped on request, ended for good, FATAL, or
	// phpinit is stopping).
	GoalDown Goal = iota
	// GoalUp: run; a down program starts once its dependencies run.
	GoalUp
	// GoalRestart: stop, then GoalUp once nothing of it runs.
	GoalRestart
	// GoalRemove: removed from the config; forgotten once down.
	GoalRemove
)

var goalNames = [...]string{"down", "up", "restart", "remove"}

func (g Goal) String() string {
	if int(g) < len(goalNames) {
		return goalNames[g]
	}
	return "unknown"
}

// wantDown sets GoalDown unless the program is being removed.
func (p *program) wantDown() {
	if p.goal != GoalRemove {
		p.goal = GoalDown
	}
}

// idle: down in a state from which EvStart starts it.
func (p *program) idle() bool {
	switch p.state {
	case Stopped, Exited, Fatal:
		return true
	}
	return false
}

// queued is an event waiting its turn on the loop.
type queued struct {
	p *program
	e Event
}

// apply delivers e to p. An event raised while another is being handled
// (by an action, or by a request the action made) is queued behind it
// rather than re-entering a transition, so every transition completes,
// actions and waiters included, before the next one begins.
func (p *program) apply(s *Supervisor, e Event) {
	s.queue = append(s.queue, queued{p, e})
	if s.delivering {
		return
	}
	s.delivering = true
	defer func() { s.delivering = false }()
	for len(s.queue) > 0 {
		q := s.queue[0]
		s.queue = s.queue[1:]
		q.p.step(s, q.e)
	}
}

// pursueGoal moves a program towards its goal where no event does: a
// restart or a spec change waiting for the program to be down.
func (p *program) pursueGoal(s *Supervisor) {
	if !p.down() {
		return
	}
	if p.nextSpec != nil {
		p.takeNextSpec(s)
	}
	if p.goal == GoalRestart {
		p.goal = GoalUp
	}
}
