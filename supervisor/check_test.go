package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A reload check whose child leaves a descendant holding the output pipe
// ends within its deadline, and the next reload of that program works.
func TestReloadCheckLeavingDescendant(t *testing.T) {
	dir := t.TempDir()
	escapedPID := filepath.Join(dir, "escaped")
	checks := map[string]string{
		"in its group": "sleep 100 & exit 0",
		// setsid leaves the group, so killing the group does not close
		// the pipe; only the bound after the exit does.
		"in its own session": fmt.Sprintf(`f=%[1]s.fifo; mkfifo "$f"; setsid sh -c "echo \$\$ >$f; exec sleep 100" & read pid <"$f"; echo $pid >%[1]s; exit 0`, escapedPID),
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() {
				if b, err := os.ReadFile(escapedPID); err == nil {
					if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
					os.Remove(escapedPID)
				}
			})
			hups := filepath.Join(t.TempDir(), "hups")
			p := shSpec("web", fmt.Sprintf("trap 'echo hup >> %s' HUP; while :; do sleep 0.05; done", hups))
			p.ReloadSignal = syscall.SIGHUP
			p.Check = []string{"sh", "-c", check}
			r := start(t, Options{Programs: []ProgramSpec{p}, Logger: testLogger(t)})
			r.waitFor(t, "running", state("web", "RUNNING"))
			for i := 1; i <= 2; i++ {
				// Well inside checkTimeout: the check must not be what ends it.
				ctx, cancel := context.WithTimeout(context.Background(), checkTimeout/2)
				err := r.sup.Reload(ctx, "web")
				cancel()
				if err != nil {
					t.Fatalf("reload %d: %v", i, err)
				}
				r.waitFor(t, fmt.Sprintf("%d ok reloads", i), func(sn *Snapshot) bool {
					p, _ := sn.Program("web")
					return p.Reloads[ReloadOK] == uint64(i)
				})
			}
		})
	}
}

// Reload requests made while a check runs are answered by exactly one more
// reload, which begins after they were made.
func TestReloadRequestsCoalesce(t *testing.T) {
	dir := t.TempDir()
	checks, gate := filepath.Join(dir, "checks"), filepath.Join(dir, "gate")
	p := shSpec("web", "trap : HUP; while :; do sleep 0.05; done")
	p.ReloadSignal = syscall.SIGHUP
	p.Check = []string{"sh", "-c", fmt.Sprintf("echo >>%s; while [ ! -e %s ]; do sleep 0.01; done", checks, gate)}
	r := start(t, Options{Programs: []ProgramSpec{p}, Logger: testLogger(t)})
	r.waitFor(t, "running", state("web", "RUNNING"))
	ctx := context.Background()
	errs := make(chan error, 51)
	go func() { errs <- r.sup.Reload(ctx, "web") }()
	lines := func() int { b, _ := os.ReadFile(checks); return strings.Count(string(b), "\n") }
	for lines() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	for range 50 {
		go func() { errs <- r.sup.Reload(ctx, "web") }()
	}
	for queued := 0; queued < 50; {
		time.Sleep(5 * time.Millisecond)
		_ = r.sup.Do(ctx, func() { queued = len(r.sup.progs["web"].nextReload) })
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 51 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := lines(); n != 2 {
		t.Errorf("%d checks for 51 requests, want 2", n)
	}
	sn, _ := r.sup.Snapshot().Program("web")
	if sn.Reloads[ReloadOK] != 2 {
		t.Errorf("reloads %v, want 2 ok", sn.Reloads)
	}
}
