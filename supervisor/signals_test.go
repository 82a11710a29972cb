package supervisor

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/proc"
)

// A stop signal that queued in phpinit's subscription before Run (as the
// hooks ended) is handled before anything starts: no program is spawned,
// and Run returns 0 at once.
func TestStopQueuedBeforeRunStartsNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
		sigs := make(chan os.Signal, 4)
		sigs <- syscall.SIGCHLD
		sigs <- sig
		sup, err := New(Options{Programs: []ProgramSpec{shSpec("web", "exec sleep 1000")}, Signals: sigs, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		spawned := 0
		sup.spawn = func(_, _ []string, _ string, _ *syscall.Credential, _ []uintptr, _ []uintptr, _ proc.Privileges) (int, error) {
			spawned++
			return 0, syscall.EPERM
		}
		code := make(chan int, 1)
		go func() { code <- sup.Run(context.Background()) }()
		select {
		case c := <-code:
			if c != 0 || spawned != 0 {
				t.Errorf("%v: exit %d after %d spawns, want 0 and none", sig, c, spawned)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%v: Run did not return", sig)
		}
	}
}

// The lists phpinit subscribes to never hold what belongs to the Go
// runtime (URG, PROF) or glibc (32-34), and one-off mode never forwards
// SIGCHLD.
func TestSignalLists(t *testing.T) {
	reserved := map[os.Signal]bool{syscall.SIGURG: true, syscall.SIGPROF: true,
		syscall.Signal(32): true, syscall.Signal(33): true, syscall.Signal(34): true,
		syscall.SIGKILL: true, syscall.SIGSTOP: true}
	for name, list := range map[string][]os.Signal{"loop": LoopSignals(), "one-off": OneShotSignals()} {
		seen := map[os.Signal]bool{}
		for _, s := range list {
			if reserved[s] || seen[s] {
				t.Errorf("%s: %v listed (reserved or twice)", name, s)
			}
			seen[s] = true
		}
		// Every signal kill(2) could end a Go program with.
		for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT,
			syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS, syscall.SIGFPE,
			syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS, syscall.SIGPIPE} {
			if !seen[s] {
				t.Errorf("%s: %v missing", name, s)
			}
		}
	}
	for _, s := range ForwardSignals() {
		if s == syscall.SIGCHLD {
			t.Error("SIGCHLD forwarded")
		}
	}
	if n := len(ForwardSignals()); n != 31-5+30 {
		t.Errorf("%d signals forwarded, want 56 (1-31 but KILL, STOP, CHLD, URG, PROF; 35-64)", n)
	}
}
