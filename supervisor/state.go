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
	// EvStartTimeout: ready.start_timeout passed while STARTING.
	EvStartTimeout
	// EvStable: the run has lasted long enough that the failure streak
	// is over (see minStableRun).
	EvStable
	// EvCheckPassed and EvCheckFailed: the check run after a failed start
	// ended (see ActStartCheck).
	EvCheckPassed
	EvCheckFailed
)

var eventNames = [...]string{"start", "ready", "exit", "spawn_failed", "backoff_done", "stop", "stop_timeout",
	"start_timeout", "stable", "check_passed", "check_failed"}

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
	// ActRunning: the start counts: ready, liveness probing, and the
	// timer of EvStable.
	ActRunning
	// ActResetFailures: a stable run, the failure streak is over.
	ActResetFailures
	// ActCountFailure: a start failed; may lead to FATAL.
	ActCountFailure
	// ActRestart: the program ended on its own after a stable run and its
	// autorestart policy restarts it: start again at once.
	ActRestart
	// ActEnded: the program ended on its own and is not restarted.
	ActEnded
	// ActScheduleThrottle arms the timer that ends a throttled start's
	// wait (at most one start per second).
	ActScheduleThrottle
	// ActStartTimedOut records that the start is stopped for not getting
	// ready in time: its exit is a failed start.
	ActStartTimedOut
	// ActStartCheck runs the program's check after a failed start; its
	// outcome arrives as EvCheckPassed or EvCheckFailed.
	ActStartCheck
	// ActConfigInvalid records and logs the failed check's reason: retrying
	// cannot fix a config.
	ActConfigInvalid
)

// Facts are what the transition function needs beyond state and event.
type Facts struct {
	// RetriesLeft: another failed start is still allowed.
	RetriesLeft bool
	// Throttled: the last start attempt was less than a second ago.
	Throttled bool
	// Restart: the autorestart policy restarts this exit (and phpinit is
	// not stopping).
	Restart bool
	// ShortRun: the run that ended was shorter than a stable run.
	ShortRun bool
	// StartFailed: the program is being stopped because its start
	// failed (not ready in time), and it is still wanted up.
	StartFailed bool
	// CheckOnFail: a failed start runs the program's check before it is
	// retried (it has a check, exited with a failure status of its own,
	// and phpinit is not stopping; see checkAfterFailure).
	CheckOnFail bool
}

// failedStart is where a failed start leads: BACKOFF while retries are
// left, else FATAL. A program with a check waits in BACKOFF for it first:
// a config error is FATAL at once, whatever retries are left, and only
// then is the failure counted (EvCheckPassed comes back here).
func failedStart(f Facts) (State, []Action) {
	if f.CheckOnFail {
		return Backoff, []Action{ActCancelTimers, ActStartCheck}
	}
	if f.RetriesLeft {
		return Backoff, []Action{ActCancelTimers, ActCountFailure, ActScheduleBackoff}
	}
	return Fatal, []Action{ActCancelTimers, ActCountFailure}
}

// Transition is phpinit's program lifecycle as a total function of state and
// event. Events that make no sense in a state are explicit no-ops: the loop
// may deliver stale ones (a timer that fired just as the program exited).
func Transition(s State, e Event, f Facts) (State, []Action) {
	switch s {
	case Stopped, Exited, Fatal:
		if e == EvStart {
			if f.Throttled {
				return Backoff, []Action{ActScheduleThrottle}
			}
			return Starting, []Action{ActSpawn}
		}
	case Starting:
		switch e {
		case EvReady:
			return Running, []Action{ActRunning}
		case EvExit:
			return failedStart(f)
		case EvSpawnFailed:
			// Nothing ran: the command is missing, not its config.
			f.CheckOnFail = false
			return failedStart(f)
		case EvStartTimeout:
			return Stopping, []Action{ActCancelTimers, ActStartTimedOut, ActSignalStop}
		case EvStop:
			return Stopping, []Action{ActCancelTimers, ActSignalStop}
		}
	case Running:
		switch e {
		case EvStable:
			return Running, []Action{ActResetFailures}
		case EvExit:
			switch {
			case !f.Restart:
				return Exited, []Action{ActCancelTimers, ActEnded}
			case f.ShortRun:
				// Dying right after getting ready is a crash loop,
				// not a planned exit.
				return failedStart(f)
			}
			return Exited, []Action{ActCancelTimers, ActRestart}
		case EvStop:
			return Stopping, []Action{ActCancelTimers, ActSignalStop}
		}
	case Backoff:
		switch e {
		case EvBackoffDone:
			return Starting, []Action{ActSpawn}
		case EvCheckPassed:
			f.CheckOnFail = false
			return failedStart(f)
		case EvCheckFailed:
			return Fatal, []Action{ActCancelTimers, ActCountFailure, ActConfigInvalid}
		case EvStop:
			return Stopped, []Action{ActCancelTimers}
		}
	case Stopping:
		switch e {
		case EvExit:
			if f.StartFailed {
				return failedStart(f)
			}
			return Stopped, []Action{ActCancelTimers}
		case EvStopTimeout:
			return Stopping, []Action{ActKillGroup}
		}
	}
	return s, nil
}
