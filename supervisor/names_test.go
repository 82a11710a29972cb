package supervisor

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestSelect(t *testing.T) {
	members := []Member{
		{"php-fpm", "php-fpm"}, {"worker_00", "worker"}, {"worker_01", "worker"},
		{"mailer", "jobs"}, {"cron", "jobs"}, {"jobs_x", ""}, {"solo", "worker_01"},
	}
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"all", []string{"php-fpm", "worker_00", "worker_01", "mailer", "cron", "jobs_x", "solo"}},
		{"worker", []string{"worker_00", "worker_01"}},
		{"worker_01", []string{"worker_01"}}, // a program's own name wins over a group
		{"jobs", []string{"mailer", "cron"}},
		{"php-fpm", []string{"php-fpm"}},
	} {
		got, err := Select(members, tc.name)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Select(%q) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	_, err := Select(members, "wroker")
	var ue *UnknownProgramError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnknownProgram) {
		t.Fatalf("Select(wroker): %v, want an UnknownProgramError", err)
	}
	want := `unknown program "wroker" (programs: cron, jobs_x, mailer, php-fpm, solo, worker_00, worker_01; groups: jobs, worker, worker_01)`
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
}

func TestSnapshotSelect(t *testing.T) {
	sn := &Snapshot{Programs: []ProgramStatus{{Name: "nginx", Group: "nginx"}, {Name: "w_0", Group: "w"}, {Name: "w_1", Group: "w"}}}
	got, err := sn.Select("w")
	if err != nil || len(got) != 2 || got[0].Name != "w_0" || got[1].Name != "w_1" {
		t.Errorf("Select(w) = %v, %v", got, err)
	}
	if _, err := sn.Select("x"); !errors.Is(err, ErrUnknownProgram) {
		t.Errorf("Select(x): %v", err)
	}
}

// A Manual program (autostart false) stays STOPPED, and /readyz does not
// wait for it, until asked; then it runs like any other.
func TestManualWaitsForRequest(t *testing.T) {
	web, cron := fakeSpecNoDelay("web"), fakeSpecNoDelay("cron")
	cron.Manual, cron.Critical = true, true
	h := newLoopHarness(t, web, cron)
	h.advance(time.Second)
	h.want("web", Running)
	h.want("cron", Stopped)
	if st, _ := h.s.Snapshot().Program("cron"); !st.OnRequest {
		t.Error("cron not started yet: want OnRequest")
	}
	p := h.s.progs["cron"]
	p.goal = GoalUp // as ctl start does
	h.settle()
	h.advance(time.Second)
	h.want("cron", Running)
	if st, _ := h.s.Snapshot().Program("cron"); st.OnRequest {
		t.Error("cron started on request: want it counted by /readyz")
	}
	p.wantDown() // as ctl stop does
	h.settle()
	if st, _ := h.s.Snapshot().Program("cron"); !st.OnRequest {
		t.Error("cron stopped on request: want OnRequest again")
	}
}

// A reload neither starts a new Manual program nor a changed one that
// was not asked to run; a Manual program running on request restarts
// with its new definition.
func TestUpdateLeavesManualDown(t *testing.T) {
	web, cron := fakeSpecNoDelay("web"), fakeSpecNoDelay("cron")
	cron.Manual = true
	h := newLoopHarness(t, web, cron)
	h.advance(time.Second)
	added := fakeSpecNoDelay("mailer")
	added.Manual = true
	changed := cron
	changed.Fingerprint = "v2"
	if _, err := h.s.update([]ProgramSpec{web, changed, added}, []string{"cron", "mailer", "web"}); err != nil {
		t.Fatal(err)
	}
	h.advance(time.Second)
	h.want("mailer", Stopped)
	if p := h.want("cron", Stopped); p.spec.Fingerprint != "v2" {
		t.Errorf("cron has fingerprint %s, want the new one", p.spec.Fingerprint)
	}
	h.s.progs["cron"].goal = GoalUp
	h.advance(time.Second)
	h.want("cron", Running)
	changed.Fingerprint = "v3"
	if _, err := h.s.update([]ProgramSpec{web, changed, added}, []string{"cron", "mailer", "web"}); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.want("cron", Stopping)
}
