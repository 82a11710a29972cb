package probe

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/proc"
)

func TestExecProbe(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "check")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		argv []string
		want string // "" passes
	}{
		{"true", []string{"true"}, ""},
		{"false", []string{"false"}, "exec false: exit status 1"},
		{"reason from stderr", []string{"sh", "-c", "echo; echo 'php-fpm not ready' >&2; exit 3"}, "exec sh: exit status 3: php-fpm not ready"},
		{"reason from stdout", []string{"sh", "-c", "echo nope; exit 1"}, "exit status 1: nope"},
		{"signal", []string{"sh", "-c", "kill -TERM $$"}, "exec sh: signal terminated"},
		{"timeout", []string{"sh", "-c", "echo started; sleep 30"}, "exec sh: timed out after 200ms: started"},
		{"not found", []string{"no-such-probe-command"}, "no-such-probe-command not found in PATH"},
		{"not executable", []string{notExecutable}, "permission denied"},
		{"output flood", []string{"sh", "-c", "yes; exit 1"}, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probeCheckNoLeak(t)
			pr := mustProber(t, &Spec{Exec: tt.argv, Timeout: 200 * time.Millisecond}, nil)
			err := probeWithin(t, pr, time.Second)
			probeWantResult(t, err, tt.want)
		})
	}
}

// TestExecProbeKillsGroup: on timeout, what the command started dies too,
// and an escaped descendant holding the output pipe does not hang the probe.
func TestExecProbeKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	pr := mustProber(t, &Spec{
		Exec:    []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"},
		Timeout: 300 * time.Millisecond,
	}, nil)
	probeWantErr(t, probeWithin(t, pr, 1500*time.Millisecond), "timed out")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The orphan is reparented and reaped elsewhere; dead or a zombie is fine.
	deadline := time.Now().Add(2 * time.Second)
	for probeProcessRunning(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background child %d still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}

	escaped := mustProber(t, &Spec{
		Exec:    []string{"sh", "-c", "setsid sleep 2 & exit 0"},
		Timeout: time.Second,
	}, nil)
	if err := probeWithin(t, escaped, 500*time.Millisecond); err != nil {
		t.Errorf("escaped descendant: %v", err)
	}
}

func probeProcessRunning(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

func TestExecProbeEnvAndPath(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "check-app")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntest \"$APP_READY\" = yes\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent", "PATH=" + dir + ":/usr/bin:/bin", "APP_READY=yes"}
	pr, err := newProber(&Spec{Exec: []string{"check-app"}}, env, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Probe(t.Context()); err != nil {
		t.Errorf("found on the env's PATH with its env: %v", err)
	}
	pr, _ = newProber(&Spec{Exec: []string{"check-app"}}, []string{"PATH=" + dir, "APP_READY=no"}, nil, nil)
	probeWantErr(t, pr.Probe(t.Context()), "exit status 1")
}

func TestExecProbeCredential(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: switching user needs root")
	}
	cred := &syscall.Credential{Uid: 65534, Gid: 65534}
	pr, err := newProber(&Spec{Exec: []string{"sh", "-c", `test "$(id -u):$(id -g)" = 65534:65534`}}, os.Environ(), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Probe(t.Context()); err != nil {
		t.Errorf("as nobody: %v", err)
	}
}

// TestExecProbeRunner: an injected runner (the supervisor's, in phpinit)
// gets the resolved path, a new process group and the credential, and its
// wait is what learns the exit.
func TestExecProbeRunner(t *testing.T) {
	var calls atomic.Int32
	runner := proc.ForkerFunc(func(path string, argv []string, attr *proc.Attr) (int, func() (syscall.WaitStatus, error), error) {
		calls.Add(1)
		if !filepath.IsAbs(path) || argv[0] != "sh" || !attr.Sys.Setpgid || attr.Sys.Credential == nil || len(attr.Files) != 3 {
			t.Errorf("StartProbe(%q, %q, %+v)", path, argv, attr.Sys)
		}
		attr.Sys.Credential = nil // not root in every test run
		return proc.SelfWait.Fork(path, argv, attr)
	})
	cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	pr, err := newProber(&Spec{Exec: []string{"sh", "-c", "exit 4"}}, os.Environ(), cred, runner)
	if err != nil {
		t.Fatal(err)
	}
	probeWantErr(t, pr.Probe(t.Context()), "exit status 4")
	if calls.Load() != 1 {
		t.Errorf("runner called %d times", calls.Load())
	}
}

// TestExecProbeRunnerWaitLost: a runner whose wait never reports (a bug, or
// a status lost to another reaper) cannot hang the probe.
func TestExecProbeRunnerWaitLost(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	runner := proc.ForkerFunc(func(path string, argv []string, attr *proc.Attr) (int, func() (syscall.WaitStatus, error), error) {
		pid, wait, err := proc.SelfWait.Fork(path, argv, attr)
		if err != nil {
			return 0, nil, err
		}
		return pid, func() (syscall.WaitStatus, error) {
			ws, err := wait()
			<-release
			return ws, err
		}, nil
	})
	pr := mustProber(t, &Spec{Exec: []string{"sleep", "30"}, Timeout: 100 * time.Millisecond}, runner)
	err := probeWithin(t, pr, 100*time.Millisecond+proc.KillGrace+500*time.Millisecond)
	probeWantErr(t, err, "did not exit after SIGKILL")
}

func TestExecProbeLostStatus(t *testing.T) {
	runner := proc.ForkerFunc(func(path string, argv []string, attr *proc.Attr) (int, func() (syscall.WaitStatus, error), error) {
		pid, wait, err := proc.SelfWait.Fork(path, argv, attr)
		if err != nil {
			return 0, nil, err
		}
		return pid, func() (syscall.WaitStatus, error) {
			_, _ = wait() // as if a wait4(-1) reaper got there first
			return 0, syscall.ECHILD
		}, nil
	})
	pr := mustProber(t, &Spec{Exec: []string{"true"}}, runner)
	probeWantErr(t, pr.Probe(t.Context()), "exec true: cannot learn exit status: no child processes")
}
