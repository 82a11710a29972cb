package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/internal/schedule"
)

func mustSchedule(t *testing.T, expr string) *schedule.Schedule {
	t.Helper()
	s, err := schedule.Parse(expr, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jobSpec is a scheduled program as internal/app builds one.
func jobSpec(t *testing.T, name, expr string) ProgramSpec {
	sp := fakeSpec(name)
	sp.Schedule = mustSchedule(t, expr)
	sp.StartSeconds = 0
	sp.Restart = RestartNever
	return sp
}

func (h *loopHarness) runs(name string) map[string]uint64 {
	h.t.Helper()
	st, ok := h.s.Snapshot().Program(name)
	if !ok || st.Schedule == nil {
		h.t.Fatalf("%s: no schedule in the snapshot", name)
	}
	return st.Schedule.Runs
}

func (h *loopHarness) wantRuns(name string, ok, failed, skipped uint64) {
	h.t.Helper()
	got := h.runs(name)
	if got[RunOK] != ok || got[RunFailed] != failed || got[RunSkipped] != skipped {
		h.t.Fatalf("%s runs %v, want ok %d failed %d skipped %d", name, got, ok, failed, skipped)
	}
}

func (h *loopHarness) wantShown(name, state string) ProgramStatus {
	h.t.Helper()
	st, _ := h.s.Snapshot().Program(name)
	if st.State != state {
		h.t.Fatalf("%s shows %s, want %s", name, st.State, state)
	}
	return st
}

// An @every 2s job that lasts 5s: not started at boot, started at the
// first tick, the ticks while it runs skipped and counted, the run's
// status recorded, and the next tick after it runs it again.
func TestScheduleSkipsWhileRunning(t *testing.T) {
	h := newLoopHarness(t, fakeSpecNoDelay("web"), jobSpec(t, "job", "@every 2s"))
	h.want("web", Running)
	h.want("job", Stopped)
	st := h.wantShown("job", StateScheduled)
	if want := h.clock.Now().Add(2 * time.Second); !st.Schedule.Next.Equal(want) {
		t.Fatalf("next run %s, want %s", st.Schedule.Next, want)
	}
	if len(h.spawned) != 1 {
		t.Fatalf("spawned %q at boot, want web alone", h.spawned)
	}

	h.advance(2 * time.Second)
	h.want("job", Running)
	h.wantShown("job", "RUNNING")
	h.advance(2 * time.Second) // t=4: skipped
	h.advance(2 * time.Second) // t=6: skipped
	h.want("job", Running)
	h.wantRuns("job", 0, 0, 2)
	h.advance(time.Second) // t=7: the 5s job ends
	h.exit("job", 0)
	h.want("job", Exited)
	st = h.wantShown("job", StateScheduled)
	if st.Schedule.LastResult != RunOK || st.Schedule.LastStatus == nil || st.Schedule.LastStatus.Code != 0 ||
		!st.Schedule.LastRun.Equal(time.Unix(1_700_000_002, 0)) || st.Restarts != 0 {
		t.Fatalf("after a good run: %+v %+v", st, st.Schedule)
	}
	h.wantRuns("job", 1, 0, 2)

	h.advance(time.Second) // t=8: runs again
	h.want("job", Running)
	if n := strings.Count(fmt.Sprint(h.spawned), "sleep 100"); n != 3 {
		t.Errorf("%d spawns (web and two runs expected): %q", n, h.spawned)
	}
}

// A failing run is result failed, never BACKOFF or FATAL, never restarted;
// a run that cannot even start is failed too, and the next tick tries
// again. Neither touches a critical program or phpinit.
func TestScheduleFailuresAreRuns(t *testing.T) {
	h := newLoopHarness(t, fakeSpecNoDelay("web"), jobSpec(t, "job", "@every 10s"))
	h.advance(10 * time.Second)
	h.exit("job", 3)
	p := h.want("job", Exited)
	if p.goal != GoalDown || p.failures != 0 || h.s.stopping {
		t.Fatalf("after exit 3: goal %s failures %d stopping %v", p.goal, p.failures, h.s.stopping)
	}
	h.wantRuns("job", 0, 1, 0)
	if st := h.wantShown("job", StateScheduled); st.Schedule.LastResult != RunFailed || st.Schedule.LastStatus.Code != 3 {
		t.Fatalf("last run %+v", st.Schedule)
	}
	h.advance(5 * time.Second)
	h.want("job", Exited) // not restarted

	h.s.spawn = func([]string, []string, string, *syscall.Credential, []uintptr, []uintptr, proc.Privileges) (int, error) {
		return 0, os.ErrNotExist
	}
	h.advance(5 * time.Second)
	h.want("job", Exited)
	h.wantRuns("job", 0, 2, 0)
	if st := h.wantShown("job", StateScheduled); st.Schedule.LastStatus == nil || st.Schedule.LastStatus.Code != 127 {
		t.Fatalf("spawn failure recorded as %+v", st.Schedule.LastStatus)
	}
	for i := range 10 {
		h.advance(10 * time.Second)
		if p.state == Fatal || p.state == Backoff {
			t.Fatalf("tick %d: %s", i, p.state)
		}
	}
	h.wantRuns("job", 0, 12, 0)
	h.want("web", Running)
	if slices.Contains(h.clock.Pending(), time.Duration(0)) {
		t.Errorf("a zero timer was armed: %v", h.clock.Pending())
	}
}

// A reload that changes the schedule while a run lasts: the run goes on
// (no signal, same pid), the next tick follows the new schedule, and the
// new spec applies from the next run on.
func TestRescheduleKeepsRunningJob(t *testing.T) {
	h := newLoopHarness(t, jobSpec(t, "job", "@every 10s"))
	h.advance(10 * time.Second)
	p := h.want("job", Running)
	pid := p.pid

	changed := jobSpec(t, "job", "@every 3s")
	changed.Fingerprint = "v2"
	changed.Command = []string{"sh", "-c", "exec sleep 200"}
	res := h.update(changed)
	if !slices.Equal(res.Changed, []string{"job"}) {
		t.Fatalf("update result %+v", res)
	}
	if p = h.want("job", Running); p.pid != pid || len(h.kills) != 0 {
		t.Fatalf("rescheduling touched the run: pid %d -> %d, signals %q", pid, p.pid, h.kills)
	}
	st, _ := h.s.Snapshot().Program("job")
	if want := h.clock.Now().Add(3 * time.Second); !st.Schedule.Next.Equal(want) || st.Schedule.Expr != "@every 3s" {
		t.Fatalf("schedule %+v, want @every 3s next at %s", st.Schedule, want)
	}
	h.advance(3 * time.Second)
	h.wantRuns("job", 0, 0, 1)
	h.exit("job", 0)
	h.advance(3 * time.Second)
	h.want("job", Running)
	if got := h.spawned[len(h.spawned)-1]; !slices.Equal(got, changed.Command) {
		t.Errorf("next run runs %q, want the new command", got)
	}
	// Reloading the old schedule back: its stale timers stay no-ops.
	h.update(jobSpec(t, "job", "@every 10s"))
	h.exit("job", 0)
	before := len(h.spawned)
	h.advance(9 * time.Second)
	if len(h.spawned) != before {
		t.Errorf("a stale tick started a run: %q", h.spawned[before:])
	}
	h.advance(time.Second)
	h.want("job", Running)
}

// A program that gains a schedule stops and waits for its ticks; one that
// loses it runs all the time from then on.
func TestScheduleAddedAndRemoved(t *testing.T) {
	h := newLoopHarness(t, fakeSpecNoDelay("job"))
	h.want("job", Running)
	sched := jobSpec(t, "job", "@every 5s")
	sched.Fingerprint = "v2"
	h.update(sched)
	h.want("job", Stopping)
	h.exit("job", -15)
	h.want("job", Stopped)
	h.wantShown("job", StateScheduled)
	h.wantRuns("job", 0, 0, 0)
	h.advance(5 * time.Second)
	h.want("job", Running)

	plain := fakeSpecNoDelay("job")
	plain.Fingerprint = "v3"
	h.update(plain)
	h.exit("job", -15)
	h.advance(time.Second) // at most one start a second
	p := h.want("job", Running)
	if st := h.wantShown("job", "RUNNING"); st.Schedule != nil || p.sched != nil {
		t.Fatalf("schedule left after it was removed: %+v", st.Schedule)
	}
	h.advance(2 * time.Second) // a stable run
	h.exit("job", 0)
	h.want("job", Running) // restarted at once: autorestart always
}

// Stopping phpinit stops a running job with its stop signal, no further
// tick is armed, and phpinit finishes once the job is gone.
func TestScheduleStopWaitsForRun(t *testing.T) {
	h := newLoopHarness(t, jobSpec(t, "job", "@every 2s"))
	h.advance(2 * time.Second)
	h.want("job", Running)
	h.s.requestStop(0, "test")
	h.settle()
	h.want("job", Stopping)
	if !slices.Contains(h.kills, "TERM") {
		t.Fatalf("signals %q, want TERM", h.kills)
	}
	h.advance(2 * time.Second)
	h.wantRuns("job", 0, 0, 0)
	h.exit("job", -15)
	if !h.s.finished {
		t.Fatal("phpinit did not finish once the job ended")
	}
	if st := h.wantShown("job", "STOPPED"); !st.Schedule.Next.IsZero() || st.Schedule.Runs[RunFailed] != 1 {
		t.Fatalf("after stop: %+v", st.Schedule)
	}
}

// The control verbs on a real scheduled program: start runs it once now,
// stop ends a run, and neither disturbs the schedule.
func TestScheduleStartAndStopVerbs(t *testing.T) {
	dir := t.TempDir()
	marks := filepath.Join(dir, "marks")
	sp := shSpec("job", fmt.Sprintf("echo run >> %s; [ -e %s/long ] && exec sleep 100; exit 0", marks, dir))
	sp.Critical, sp.StartSeconds, sp.Restart = false, 0, RestartNever
	sp.Schedule = mustSchedule(t, "@yearly")
	r := start(t, Options{Programs: []ProgramSpec{sp}})
	r.waitFor(t, "job scheduled", state("job", StateScheduled))
	ctx := context.Background()
	if err := r.sup.Start(ctx, "job"); err != nil {
		t.Fatal(err)
	}
	sn := r.waitFor(t, "the run recorded", func(sn *Snapshot) bool {
		p, _ := sn.Program("job")
		return p.State == StateScheduled && p.Schedule.Runs[RunOK] == 1
	})
	if p, _ := sn.Program("job"); p.Schedule.Next.Before(time.Now().Add(24 * time.Hour)) {
		t.Errorf("ctl start moved the next run to %s", p.Schedule.Next)
	}
	os.WriteFile(filepath.Join(dir, "long"), nil, 0o644)
	if err := r.sup.Start(ctx, "job"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "the second run going", func(sn *Snapshot) bool {
		got, _ := os.ReadFile(marks)
		return state("job", "RUNNING")(sn) && string(got) == "run\nrun\n"
	})
	if err := r.sup.Stop(ctx, "job"); err != nil {
		t.Fatal(err)
	}
	sn = r.waitFor(t, "job scheduled again", state("job", StateScheduled))
	if p, _ := sn.Program("job"); p.Schedule.Runs[RunFailed] != 1 || p.Schedule.LastResult != RunFailed {
		t.Errorf("stopped run recorded as %+v", p.Schedule)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// A restart (ctl restart) of a run in progress stops it and runs again;
// of an idle scheduled program, runs it now. The schedule goes on.
func TestScheduleRestart(t *testing.T) {
	h := newLoopHarness(t, jobSpec(t, "job", "@every 10s"))
	p := h.s.progs["job"]
	p.restart(h.s)
	h.settle()
	h.want("job", Running)
	first := p.pid
	p.restart(h.s)
	h.settle()
	h.want("job", Stopping)
	h.exit("job", -15)
	if p = h.want("job", Running); p.pid == first {
		t.Fatal("restart did not start a new run")
	}
	h.wantRuns("job", 0, 1, 0)
	h.exit("job", 0)
	h.wantShown("job", StateScheduled)
	h.wantRuns("job", 1, 1, 0)
	h.advance(10 * time.Second)
	h.want("job", Running)
}
