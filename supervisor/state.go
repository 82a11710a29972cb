package supervisor

// State is a program's lifecycle state. The names are supervisord's, which
// our users already read in supervisorctl output.
type State int

const (
	Stopped State = iota
	Starting
	Running
	Backoff
	Stopping
	Exited
	Fatal
)

var stateNames = [...]string{"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// States lists every state, for metrics that one-hot encode them.
func States() []State { return []State{Stopped, Starting, Running, Backoff, Stopping, Exited, Fatal} }

// Event is something that happens to a program.
type Event int

const (
	// EvStart asks for the program to run.
	EvStart Event = iota
	// EvReady: the start counts (start_seconds passed or the readiness probe passed).
	EvReady
	// EvExit: the main process is gone and its process group is empty.
	EvExit
	// EvSpawnFailed: fork/exec failed.
	EvSpawnFailed
	// EvBackoffDone: the backoff timer fired.
	EvBackoffDone
	// EvStop asks for the program to stop.
	EvStop
	// EvStopTimeout: stop_timeout passed while STOPPING.
	EvStopTimeout
)

var eventNames = [...]string{"start", "ready", "exit", "spawn_failed", "backoff_done", "stop", "stop_timeout"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "unknown"
}

// Action is what the loop must do after a transition.
type Action int

const (
	// ActSpawn starts the process and arms the readiness check.
	ActSpawn Action = iota + 1
	// ActScheduleBackoff arms the backoff timer.
	ActScheduleBackoff
	// ActSignalStop sends stop_signal and arms the stop timer.
	ActSignalStop
	// ActKillGroup sends SIGKILL to the process group.
	ActKillGroup
	// ActCancelTimers invalidates pending timers and probes.
	ActCancelTimers
	// ActResetFailures: a start counted, the failure streak is over.
	ActResetFailures
	// ActCountFailure: a start failed; may lead to FATAL.
	ActCountFailure
	// ActMaybeRestart: the program ended on its own; restart it if its
	// autorestart policy says so.
	ActMaybeRestart
)

// Facts are what the transition function needs beyond state and event.
type Facts struct {
	// RetriesLeft: another failed start is still allowed.
	RetriesLeft bool
}

// Transition is phpinit's program lifecycle as a total function of state and
// event. Events that make no sense in a state are explicit no-ops: the loop
// may deliver stale ones (a timer that fired just as the program exited).
func Transition(s State, e Event, f Facts) (State, []Action) {
	switch s {
	case Stopped, Exited, Fatal:
		if e == EvStart {
			return Starting, []Action{ActSpawn}
		}
	case Starting:
		switch e {
		case EvReady:
			return Running, []Action{ActResetFailures}
		case EvExit, EvSpawnFailed:
			if f.RetriesLeft {
				return Backoff, []Action{ActCancelTimers, ActCountFailure, ActScheduleBackoff}
			}
			return Fatal, []Action{ActCancelTimers, ActCountFailure}
		case EvStop:
			return Stopping, []Action{ActCancelTimers, ActSignalStop}
		}
	case Running:
		switch e {
		case EvExit:
			return Exited, []Action{ActCancelTimers, ActMaybeRestart}
		case EvStop:
			return Stopping, []Action{ActCancelTimers, ActSignalStop}
		}
	case Backoff:
		switch e {
		case EvBackoffDone:
			return Starting, []Action{ActSpawn}
		case EvStop:
			return Stopped, []Action{ActCancelTimers}
		}
	case Stopping:
		switch e {
		case EvExit:
			return Stopped, []Action{ActCancelTimers}
		case EvStopTimeout:
			return Stopping, []Action{ActKillGroup}
		}
	}
	return s, nil
}
