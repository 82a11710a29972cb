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
)

// Restart is a program's autorestart policy.
type Restart int

const (
	RestartAlways Restart = iota
	RestartOnFailure
	RestartNever
)

// ParseRestart maps the config words always, on-failure, never.
func ParseRestart(s string) (Restart, bool) {
	switch s {
	case "", "always":
		return RestartAlways, true
	case "on-failure":
		return RestartOnFailure, true
	case "never":
		return RestartNever, true
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
}

// ProgramSpec is everything the supervisor needs to run one program. The
// caller resolves users, environment and probes; the supervisor only acts.
type ProgramSpec struct {
	Name string
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
	// StartSeconds must pass (without a Ready probe) for a start to count.
	StartSeconds time.Duration
	// StartRetries failed starts in a row are retried before FATAL.
	StartRetries int
	// BackoffInitial and BackoffMax bound the delay between failed starts.
	BackoffInitial, BackoffMax time.Duration
	// StopSignal begins a graceful stop; StopTimeout later the group is killed.
	StopSignal  syscall.Signal
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
}
