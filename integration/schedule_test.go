package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scheduleJob logs each run's start (with what it sees) and end to
// log/runs; a stop signal mid-run is logged as "term".
const scheduleJob = `trap 'echo "term $(date +%s.%N)" >> @DIR@/log/runs; exit 0' TERM
echo "start $(date +%s.%N) var=$SCHED_VAR user=$(id -un)" >> @DIR@/log/runs
echo "job ran with SCHED_VAR=$SCHED_VAR"
sleep 5 & wait $!
echo "end $(date +%s.%N)" >> @DIR@/log/runs
`

// TestScheduleAsPID1: beside nginx and php-fpm, an @every 2s job that
// lasts 5 s runs as its user with what script.sh exported, never overlaps
// itself (the ticks meanwhile are skipped and counted), and its runs show
// in ctl status and /metrics as the job's own log says; a failing
// scheduled job is recorded as failed and never takes the site down; and
// stopping phpinit stops a run in progress with its stop signal.
func TestScheduleAsPID1(t *testing.T) {
	needStack(t)
	st := newSite(t, site{
		Script: "export SCHED_VAR=from-script\n",
		Programs: `  job:
    command: [sh, @DIR@/job.sh]
    user: www-data
    schedule: "@every 2s"
    stop_signal: TERM
    stop_timeout: 10s
  failing:
    command: [sh, -c, "echo failing run; exit 3"]
    schedule: "@every 1s"
`})
	writeScheduleSite(t, st, scheduleJob)
	p := startPID1(t, "run", "--config", st.config())
	waitHTTP(t, st.url("/index.php"), 200, 30*time.Second)

	// Two whole runs: with 2 s ticks and 5 s runs, ticks were skipped.
	var lines []string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if lines = runLines(t, st); countLines(lines, "end") >= 2 {
			break
		}
	}
	if countLines(lines, "end") < 2 {
		t.Fatalf("fewer than two whole runs: %q", lines)
	}
	p.waitOutput("job ran with SCHED_VAR=from-script", 5*time.Second)
	p.waitOutput("schedule tick skipped: the last run still lasts", 5*time.Second)
	if code, body, err := get(fmt.Sprintf("http://127.0.0.1:%d/readyz", st.HTTPPort)); err != nil || code != 200 {
		t.Errorf("/readyz with a failing scheduled job: %d %s %v", code, body, err)
	}

	before := runLines(t, st)
	sn := ctlStatusJSON(t, st)
	_, metrics, err := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", st.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	after := runLines(t, st)
	checkNoOverlap(t, after)
	ok := seriesValue(t, metrics, `phpinit_schedule_runs_total{program="job",result="ok"}`)
	skipped := seriesValue(t, metrics, `phpinit_schedule_runs_total{program="job",result="skipped"}`)
	// Every run counted ok wrote its end line before it exited; at most one
	// run ended between the first read of the log and the scrape.
	if ok > countLines(after, "end") || ok < countLines(before, "end")-1 || skipped < 1 {
		t.Errorf("metrics ok=%d skipped=%d, log before %d ends, after %d ends", ok, skipped, countLines(before, "end"), countLines(after, "end"))
	}
	if failed := seriesValue(t, metrics, `phpinit_schedule_runs_total{program="failing",result="failed"}`); failed < 1 {
		t.Errorf("failing job: %d failed runs", failed)
	}
	job, failing := sn["job"], sn["failing"]
	if job.Schedule == nil || failing.Schedule == nil {
		t.Fatalf("no schedule in ctl status --json: %+v %+v", job, failing)
	}
	if (job.State != "SCHEDULED" && job.State != "RUNNING") || job.Schedule.Runs["ok"] < 1 || job.Schedule.LastResult != "ok" ||
		job.Schedule.NextRun.IsZero() || job.Schedule.Expr != "@every 2s" {
		t.Errorf("job in ctl status --json: %+v %+v", job, job.Schedule)
	}
	if failing.State == "FATAL" || failing.State == "BACKOFF" || failing.Schedule.LastResult != "failed" ||
		failing.Schedule.LastStatus == nil || failing.Schedule.LastStatus.Code != 3 {
		t.Errorf("failing in ctl status --json: %+v %+v", failing, failing.Schedule)
	}
	out, _ := runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "status")
	if !regexp.MustCompile(`(?m)^job +(SCHEDULED|RUNNING) .* last run ok \S+ ago  next run in \S+$`).MatchString(out) {
		t.Errorf("ctl status:\n%s", out)
	}

	// Stop while a run lasts: the job gets TERM and phpinit waits for it.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if l := runLines(t, st); len(l) > 0 && strings.HasPrefix(l[len(l)-1], "start") {
			break
		}
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(60 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if l := runLines(t, st); len(l) == 0 || !strings.HasPrefix(l[len(l)-1], "term") {
		t.Errorf("the run in progress was not stopped with TERM: %q", l)
	}
}

func runLines(t *testing.T, st *site) []string {
	t.Helper()
	b, err := os.ReadFile(st.path("log/runs"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func countLines(lines []string, kind string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, kind+" ") {
			n++
		}
	}
	return n
}

// checkNoOverlap: each run ends before the next starts, and each saw the
// hook's export as www-data.
func checkNoOverlap(t *testing.T, lines []string) {
	t.Helper()
	for i, l := range lines {
		want := "start"
		if i%2 == 1 {
			want = "end"
		}
		if !strings.HasPrefix(l, want+" ") {
			t.Fatalf("line %d is %q, want a %s: runs overlap?\n%s", i+1, l, want, strings.Join(lines, "\n"))
		}
		if want == "start" && !strings.HasSuffix(l, " var=from-script user=www-data") {
			t.Errorf("run %d saw %q, want SCHED_VAR from script.sh, as www-data", i/2+1, l)
		}
	}
}

type scheduledStatus struct {
	State    string `json:"state"`
	Schedule *struct {
		Expr       string            `json:"expr"`
		NextRun    time.Time         `json:"next_run"`
		LastResult string            `json:"last_result"`
		Runs       map[string]uint64 `json:"runs"`
		LastStatus *struct {
			Code int `json:"code"`
		} `json:"last_status"`
	} `json:"schedule"`
}

func ctlStatusJSON(t *testing.T, st *site) map[string]scheduledStatus {
	t.Helper()
	out, code := runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "status", "--json")
	if code != 0 {
		t.Fatalf("ctl status --json: exit %d: %s", code, out)
	}
	var sn struct {
		Programs []struct {
			Name string `json:"name"`
			scheduledStatus
		} `json:"programs"`
	}
	if err := json.Unmarshal([]byte(out), &sn); err != nil {
		t.Fatalf("ctl status --json: %v\n%s", err, out)
	}
	m := map[string]scheduledStatus{}
	for _, p := range sn.Programs {
		m[p.Name] = p.scheduledStatus
	}
	return m
}

// seriesValue is the value of the series named exactly by series.
func seriesValue(t *testing.T, body, series string) int {
	t.Helper()
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return int(n)
		}
	}
	t.Fatalf("no %s in /metrics", series)
	return 0
}

// TestScheduleReloadAndStart: a reload that changes the schedule while a
// run lasts (15 s here) lets the run finish (same pid, not signalled) and
// takes effect at once; `ctl start` runs an @yearly job now.
func TestScheduleReloadAndStart(t *testing.T) {
	needRoot(t)
	st := newSite(t, site{NoStack: true, Programs: `  job:
    command: [sh, @DIR@/job.sh]
    schedule: "@every 2s"
    stop_signal: TERM
  yearly:
    command: [sh, -c, "echo yearly >> @DIR@/log/yearly"]
    schedule: "@yearly"
`})
	longJob := strings.Replace(scheduleJob, "sleep 5", "sleep 15", 1)
	writeScheduleSite(t, st, longJob)
	p := startPID1(t, "run", "--config", st.config())
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if countLines(runLines(t, st), "start") == 1 {
			break
		}
	}
	if l := runLines(t, st); len(l) != 1 || !strings.HasPrefix(l[0], "start") {
		t.Fatalf("no run in progress: %q", l)
	}
	pid := waitStatus(t, st, map[string]string{"job": "RUNNING"})["job"]
	b, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.config(), []byte(strings.Replace(string(b), `"@every 2s"`, `"@every 7s"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(`msg="config reloaded" added=[] removed=[] changed=[job]`, 30*time.Second)
	if after := waitStatus(t, st, map[string]string{"job": "RUNNING"})["job"]; after != pid {
		t.Errorf("the run in progress changed pid across the reload: %s, then %s", pid, after)
	}
	if sn := ctlStatusJSON(t, st); sn["job"].Schedule == nil || sn["job"].Schedule.Expr != "@every 7s" {
		t.Errorf("after the reload: %+v", sn["job"])
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if countLines(runLines(t, st), "end") == 1 {
			break
		}
	}
	if l := runLines(t, st); countLines(l, "end") != 1 || countLines(l, "term") != 0 {
		t.Errorf("the run in progress did not finish on its own: %q", l)
	}

	if _, err := os.Stat(st.path("log/yearly")); err == nil {
		t.Fatal("the @yearly job ran at boot")
	}
	if out, code := runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "start", "yearly"); code != 0 {
		t.Fatalf("ctl start yearly: exit %d: %s", code, out)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if sn := ctlStatusJSON(t, st); sn["yearly"].Schedule != nil && sn["yearly"].Schedule.Runs["ok"] == 1 {
			break
		}
	}
	if b, _ := os.ReadFile(st.path("log/yearly")); string(b) != "yearly\n" {
		t.Errorf("ctl start yearly: log %q, want one run", b)
	}
	if sn := ctlStatusJSON(t, st); sn["yearly"].State != "SCHEDULED" || sn["yearly"].Schedule.Runs["ok"] != 1 {
		t.Errorf("yearly after ctl start: %+v %+v", sn["yearly"], sn["yearly"].Schedule)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(60 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// writeScheduleSite writes job.sh and fills in @DIR@ (the site's
// directory) in it and in the site's phpinit.yaml.
func writeScheduleSite(t *testing.T, st *site, job string) {
	t.Helper()
	yml, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	for path, body := range map[string]string{st.path("job.sh"): job, st.config(): string(yml)} {
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(body, "@DIR@", st.Dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
