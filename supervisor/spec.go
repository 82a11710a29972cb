// Package supervisor owns every child of phpinit: it starts programs in
// dependency order, reaps, restarts with backoff, reloads and stops them.
// One goroutine (the loop) owns all program state; readers get immutable
// snapshots. It imports no HTTP, Prometheus, fsnotify, viper or cobra.
package supervisor

import (
	"syscall"
	"time"

	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/probe"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/internal/schedule"
)

// Restart is a program's autorestart policy.
type Restart int

const (
	RestartAlways Restart = iota
	RestartOnFailure
	RestartNever
	// RestartUnexpected restarts unless the exit status is one of
	// ExitCodes (supervisord's autorestart=unexpected).
	RestartUnexpected
)

// ParseRestart maps the config words always, on-failure, never, unexpected.
func ParseRestart(s string) (Restart, bool) {
	switch s {
	case "", "always":
		return RestartAlways, true
	case "on-failure":
		return RestartOnFailure, true
	case "never":
		return RestartNever, true
	case "unexpected":
		return RestartUnexpected, true
	}
	return 0, false
}

// ProbeSpec schedules a probe. The prober bounds each probe by its own
// timeout.
type ProbeSpec struct {
	// Probe is what to probe. The supervisor builds its prober with itself
	// as the Forker of exec probes, so that its reaper learns their exits.
	Probe probe.Spec
	// Prober, when set, is used instead of one built from Probe (tests).
	Prober probe.Prober
	// Interval between probes once settled.
	Interval time.Duration
	// FailureThreshold misses in a row fail it (liveness: restart).
	FailureThreshold int
	// SuccessThreshold passes in a row pass it.
	SuccessThreshold int
	// StartTimeout (readiness only) bounds how long a start may stay not
	// ready before it counts as failed; 0: no bound.
	StartTimeout time.Duration
}

// ProgramSpec is everything the supervisor needs to run one program. The
// caller resolves users, environment and probes; the supervisor only acts.
type ProgramSpec struct {
	Name string
	// Group is the name ctl also addresses this program by, with the
	// other programs of the group (copies of one program, a supervisord
	// [group:x]); "" means none.
	Group string
	// Manual: defined but started only on request (`ctl start`, autostart
	// false); /readyz does not wait for it while it has not been asked to run.
	Manual bool
	// Fingerprint identifies the definition: a config reload restarts a
	// program only when its fingerprint changed.
	Fingerprint string
	// Command is argv; Command[0] is looked up on the PATH in Env.
	Command []string
	// Env is the child's whole environment.
	Env []string
	// Dir is the working directory; "" keeps phpinit's.
	Dir string
	// Credential switches user, group and supplementary groups; nil keeps ours.
	Credential *syscall.Credential
	// RuntimeDirectory lists directories created before each start, owned
	// by Credential.
	RuntimeDirectory []string
	// AmbientCaps are capability numbers raised as ambient for the child.
	AmbientCaps []uintptr
	// Privileges bound the capabilities of the program, its check and its
	// exec probes, and set no_new_privs.
	Privileges proc.Privileges
	// DependsOn must be RUNNING before this starts; they stop after it.
	DependsOn []string
	// Critical: FATAL (or an exit that is not restarted) stops phpinit.
	Critical bool
	Restart  Restart
	// ExitCodes are the expected exit statuses (RestartUnexpected, and the
	// log level of an exit); nil means [0].
	ExitCodes []int
	// StartSeconds must pass (without a Ready probe) for a start to count.
	// A restarted run shorter than StartSeconds (and than minStableRun)
	// counts as a failed start even after Ready passed.
	StartSeconds time.Duration
	// StartRetries failed starts in a row are retried before FATAL.
	StartRetries int
	// BackoffInitial and BackoffMax bound the delay between failed starts.
	BackoffInitial, BackoffMax time.Duration
	// StopSignal begins a graceful stop; StopTimeout later the group is killed.
	StopSignal syscall.Signal
	// StopAsGroup sends StopSignal to the whole process group.
	StopAsGroup bool
	StopTimeout time.Duration
	// ReloadSignal and ReopenSignal: 0 means the program has none.
	ReloadSignal, ReopenSignal syscall.Signal
	// Check runs before a reload (with Env, Dir, Credential); exit 0 passes.
	Check []string
	// OnChangeRestart: a watched change restarts instead of reloading.
	OnChangeRestart bool
	// Stdout and Stderr say where the child's output goes.
	Stdout, Stderr logsink.Spec
	// Ready gates RUNNING (and dependents' starts); Live restarts on misses.
	Ready, Live *ProbeSpec

	// Listeners, when set, are listening sockets held across restarts and
	// passed to every start after stdin, stdout and stderr (see Listeners).
	Listeners *Listeners
	// Schedule, when set, runs the program at each of its ticks instead
	// of all the time (schedule.go). The caller makes such a spec
	// non-critical, with StartSeconds 0, no probes and no reload.
	Schedule *schedule.Schedule
}

// Listeners are the listening sockets phpinit holds for a program
// (internal/sockets): every start gets them as fds 3, 4, … with Env added,
// so connections made while the program restarts wait in the sockets'
// backlog. A program with listeners also ends differently: after its main
// process exits, what is left of its group (php-fpm's or nginx's workers,
// after a kill -9 of the master) gets SIGQUIT, to finish the requests they
// are on, and SIGKILL only StopTimeout later.
type Listeners struct {
	// Files gives the fds for 3, 4, … of the next start, in order. It runs
	// on the loop just before each fork; an error fails that start.
	Files func() ([]uintptr, error)
	// Env is added to Env at every start (FPM_SOCKETS, NGINX).
	Env []string
	// BeforeStop runs on the loop just before the stop signal is sent (a
	// stop, or a restart): from then on a socket path the program unlinks
	// at its exit is put back at once, not only by AfterExit.
	BeforeStop func()
	// AfterExit runs on the loop once the main process is reaped, before
	// any next start (it puts back a socket path the program unlinked at
	// exit); an error is logged.
	AfterExit func() error
}
