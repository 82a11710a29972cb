package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// Lifecycle tests: programs that never get ready, restart storms and
// planned exits, ctl requests that race or cannot finish, and reload
// bursts, with phpinit as PID 1.

// editConf replaces old, which must appear exactly once, by new in path.
func editConf(t *testing.T, path, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(string(raw), old); c != 1 {
		t.Fatalf("%q appears %d times in %s:\n%s", old, c, path, raw)
	}
	writeConf(t, path, strings.Replace(string(raw), old, new, 1))
}

// runCtlBounded is runCtl that fails the test instead of hanging.
func runCtlBounded(t *testing.T, st *site, d time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, phpinitBin, append([]string{"ctl", "--socket", st.ctlSocket()}, args...)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("ctl %v did not return within %v", args, d)
	}
	return string(out), exitCode(err)
}

// A php-fpm whose readiness socket never appears (no pm.status_listen in
// the pool) is not STARTING forever: the probe's failures are logged, the
// start deadline makes it a failed start, then FATAL with the probe's
// error in ctl status. Fixing the pool and `ctl reload php-fpm` starts it,
// and nginx, which waited for it, starts too.
func TestNeverReadyGoesFatalThenReloadFixes(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	status := st.path("run/status.sock")
	editConf(t, st.config(), `    ready: {fastcgi: "unix://`+st.path("run/php.sock")+`", path: /ping}`,
		`    ready: {fastcgi: "unix://`+status+`", path: /ping, start_timeout: 5s}
    critical: false
    start_retries: 1
    backoff: {initial: 1s, max: 1s}`)
	p := startPID1(t, "run", "--config", st.config())

	sn := waitCtlStatusFor(t, st, 60*time.Second, "php-fpm FATAL", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "php-fpm") == "FATAL"
	})
	fpm, _ := sn.Program("php-fpm")
	if fpm.LastExit == nil || !strings.Contains(fpm.LastExit.Desc, "not ready within 5s") ||
		!strings.Contains(fpm.LastExit.Desc, "status.sock") {
		t.Errorf("last exit %+v does not say why", fpm.LastExit)
	}
	if got := progState(sn, "nginx"); got != "STOPPED" {
		t.Errorf("nginx is %s while php-fpm never got ready, want STOPPED", got)
	}
	if line := strings.Join(statusLine(t, st, "php-fpm"), " "); !strings.Contains(line, "FATAL") || !strings.Contains(line, "not ready") {
		t.Errorf("ctl status line %q: want FATAL and the reason", line)
	}
	out := p.Out.String()
	for _, want := range []string{`msg="not ready yet" program=php-fpm`, `msg="not ready in time: stopping it" program=php-fpm`,
		`msg="backing off" program=php-fpm`, `msg="gave up: too many failed starts" program=php-fpm`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in the log", want)
		}
	}
	if !regexp.MustCompile(`msg="not ready yet" program=php-fpm .*err=.*status\.sock`).MatchString(out) {
		t.Error("the not-ready log line does not carry the probe's error")
	}

	f, err := os.OpenFile(st.path("conf/php-fpm/www.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "pm.status_listen = %s\n", status)
	f.Close()
	if out, code := runCtlBounded(t, st, 30*time.Second, "reload", "php-fpm"); code != 0 {
		t.Fatalf("ctl reload php-fpm: exit %d: %s", code, out)
	}
	waitCtlStatusFor(t, st, 30*time.Second, "php-fpm and nginx RUNNING", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "php-fpm") == "RUNNING" && progState(sn, "nginx") == "RUNNING"
	})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
}

// waitCtlStatusFor is waitCtlStatus with its own deadline.
func waitCtlStatusFor(t *testing.T, st *site, d time.Duration, what string, cond func(*supervisor.Snapshot) bool) *supervisor.Snapshot {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if sn, err := healthTryStatus(t, st); err == nil && cond(sn) {
			return sn
		}
		time.Sleep(50 * time.Millisecond)
	}
	return waitCtlStatus(t, st, what, cond) // fails with the last status
}

// A worker that exits 0 on purpose (queue:work --max-jobs) after more than
// start_seconds is restarted at once, never backs off and never goes FATAL,
// however often it does so.
func TestPlannedExitsRestartAtOnce(t *testing.T) {
	needRoot(t)
	st := newSite(t, site{NoStack: true, Programs: `  worker:
    command: [sh, -c, 'sleep 1.1; exit 0']
    start_seconds: 500ms
    start_retries: 2
`})
	p := startPID1(t, "run", "--config", st.config())
	const runs = 20
	waitFor(t, fmt.Sprintf("%d planned exits", runs), 120*time.Second, func() bool {
		return strings.Count(p.Out.String(), "msg=started program=worker") > runs
	})
	sn := ctlStatus(t, st)
	w, _ := sn.Program("worker")
	if w.State == "FATAL" || w.State == "BACKOFF" || w.Failures != 0 {
		t.Errorf("worker %s with %d failures after %d planned exits", w.State, w.Failures, runs)
	}
	if w.Exits["success"] < runs {
		t.Errorf("exits %v, want %d successes", w.Exits, runs)
	}
	out := p.Out.String()
	if strings.Contains(out, `msg="backing off" program=worker`) || strings.Contains(out, "gave up") {
		t.Errorf("planned exits backed off or went FATAL:\n%s", out)
	}
}

// A program that exits 0 at once with start_seconds 0 starts at most once a
// second and goes FATAL after start_retries: with nothing else to run,
// phpinit exits 1.
func TestImmediateExitIsThrottledAndFatal(t *testing.T) {
	needRoot(t)
	st := newSite(t, site{NoStack: true, Programs: `  storm:
    command: [sh, -c, 'exit 0']
    start_seconds: 0s
    start_retries: 3
    backoff: {initial: 10ms, max: 20ms}
`})
	p := startPID1(t, "run", "--config", st.config())
	if code := p.wait(60 * time.Second); code != 1 {
		t.Errorf("exit status %d, want 1 (a critical program went FATAL)", code)
	}
	var starts []time.Time
	re := regexp.MustCompile(`^time=(\S+) .*msg=started program=storm`)
	for _, line := range strings.Split(p.Out.String(), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			at, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil {
				t.Fatal(err)
			}
			starts = append(starts, at)
		}
	}
	if len(starts) != 4 {
		t.Fatalf("%d starts, want 4 (1 + start_retries 3)", len(starts))
	}
	// Timers never fire early; the margins are for the log line being
	// written after the fork, while the throttle counts from before it.
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 500*time.Millisecond {
			t.Errorf("start %d only %v after the previous one", i+1, gap)
		}
	}
	if span := starts[3].Sub(starts[0]); span < 2850*time.Millisecond {
		t.Errorf("4 starts within %v: more than one start a second", span)
	}
	if !strings.Contains(p.Out.String(), `msg="gave up: too many failed starts" program=storm`) {
		t.Error("FATAL not logged")
	}
}

// `ctl restart nginx` racing `ctl stop nginx` returns promptly, both ways
// round, and leaves nginx RUNNING or STOPPED as ctl status and the process
// table agree.
func TestCtlRestartRacingStop(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	p := startReloadStack(t, st)
	for round := 0; round < 4; round++ {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		verbs := []string{"restart", "stop"}
		if round%2 == 1 {
			verbs = []string{"stop", "restart"}
		}
		for i, verb := range verbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, codes[i] = runCtlBounded(t, st, 30*time.Second, verb, "nginx")
			}()
		}
		wg.Wait()
		sn := waitCtlStatusFor(t, st, 20*time.Second, "nginx RUNNING or STOPPED", func(sn *supervisor.Snapshot) bool {
			s := progState(sn, "nginx")
			return s == "RUNNING" || s == "STOPPED"
		})
		running := hasChild(p, "nginx")
		if state := progState(sn, "nginx"); (state == "RUNNING") != running {
			t.Errorf("round %d (%v exit %v): ctl status says %s, nginx master present: %v", round, verbs, codes, state, running)
		}
		if progState(sn, "nginx") == "STOPPED" {
			if out, code := runCtlBounded(t, st, 30*time.Second, "start", "nginx"); code != 0 {
				t.Fatalf("ctl start nginx: exit %d: %s", code, out)
			}
		}
	}
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
}

func hasChild(p *pid1, comm string) bool {
	for _, k := range children(p.PID) {
		if pr, ok := readProc(k); ok && strings.HasPrefix(pr.Comm, comm) && pr.State != "Z" {
			return true
		}
	}
	return false
}

// `ctl start nginx` with php-fpm stopped returns at once with what is in
// the way, and exit status 1; starting php-fpm first works.
func TestCtlStartWithDependencyStopped(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	startReloadStack(t, st)
	for _, name := range []string{"nginx", "php-fpm"} {
		if out, code := runCtlBounded(t, st, 30*time.Second, "stop", name); code != 0 {
			t.Fatalf("ctl stop %s: exit %d: %s", name, code, out)
		}
	}
	out, code := runCtlBounded(t, st, 20*time.Second, "start", "nginx")
	if code != 1 || !strings.Contains(out, "waiting for php-fpm, which is STOPPED") {
		t.Errorf("ctl start nginx: exit %d %q, want 1 and what it waits for", code, out)
	}
	if s := progState(ctlStatus(t, st), "nginx"); s != "STOPPED" {
		t.Errorf("nginx is %s after the refused start", s)
	}
	for _, name := range []string{"php-fpm", "nginx"} {
		if out, code := runCtlBounded(t, st, 30*time.Second, "start", name); code != 0 {
			t.Fatalf("ctl start %s: exit %d: %s", name, code, out)
		}
	}
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
}

// 200 SIGHUPs in a burst are at most two reloads of each program (one
// running, one more for every request made meanwhile), phpinit answers
// throughout, and no goroutines are left waiting.
func TestSIGHUPBurstCoalesced(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	// Each check appends a line to a file, then runs the real check.
	for name, check := range map[string]string{"fpm": "check: [php-fpm8.2, -t,", "nginx": "check: [nginx, -e, stderr, -t,"} {
		log := st.path("log/checks-" + name)
		editConf(t, st.config(), check, strings.Replace(check, "check: [",
			fmt.Sprintf(`check: [sh, -c, 'echo >>%s; exec "$0" "$@"', `, log), 1))
	}
	p := startReloadStack(t, st)
	before := goroutines(t, st)
	for range 200 {
		p.signal(syscall.SIGHUP)
	}
	if _, err := healthTryStatus(t, st); err != nil {
		t.Errorf("ctl status during the burst: %v", err)
	}
	// ctl reload answers with a reload that began after it asked, so
	// after it the burst's reloads are all done.
	if out, code := runCtlBounded(t, st, 60*time.Second, "reload"); code != 0 {
		t.Fatalf("ctl reload: exit %d: %s", code, out)
	}
	for _, name := range []string{"fpm", "nginx"} {
		b, _ := os.ReadFile(st.path("log/checks-" + name))
		n := strings.Count(string(b), "\n")
		t.Logf("%s: %d checks", name, n)
		if n < 1 || n > 3 {
			t.Errorf("%s: %d checks for 200 SIGHUPs and one ctl reload, want at most 2 for the burst and 1 for ctl", name, n)
		}
	}
	if n := strings.Count(p.Out.String(), `msg="config reloaded"`); n > 3 {
		t.Errorf("%d config reloads, want at most 3", n)
	}
	after := goroutines(t, st)
	t.Logf("goroutines: %d before the burst, %d after", before, after)
	if after > before+20 {
		t.Errorf("goroutines %d before the burst, %d after", before, after)
	}
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
}

// goroutines is go_goroutines from phpinit's /metrics.
func goroutines(t *testing.T, st *site) int {
	t.Helper()
	_, body, err := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", st.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go_goroutines (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no go_goroutines in /metrics")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// A watched change to a php-fpm that is STARTING (never ready: the pool
// has no pm.status_listen) restarts it with the fixed pool, instead of
// waiting for it to run; nginx then starts.
func TestWatchedChangeRestartsStartingProgram(t *testing.T) {
	st := newWatchedSite(t)
	status := st.path("run/status.sock")
	editConf(t, st.config(), `    ready: {fastcgi: "unix://`+st.path("run/php.sock")+`", path: /ping}`,
		`    ready: {fastcgi: "unix://`+status+`", path: /ping}`)
	p := startPID1(t, "run", "--config", st.config())
	p.waitOutput(`msg="not ready yet" program=php-fpm`, 30*time.Second)
	sn := ctlStatus(t, st)
	if progState(sn, "php-fpm") != "STARTING" || progState(sn, "nginx") != "STOPPED" {
		t.Fatalf("php-fpm %s, nginx %s: want STARTING and STOPPED", progState(sn, "php-fpm"), progState(sn, "nginx"))
	}
	pool := st.path("conf/php-fpm/www.conf")
	raw, err := os.ReadFile(pool)
	if err != nil {
		t.Fatal(err)
	}
	replaceConf(t, pool, string(raw)+"pm.status_listen = "+status+"\n")
	waitCtlStatusFor(t, st, 30*time.Second, "php-fpm and nginx RUNNING", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "php-fpm") == "RUNNING" && progState(sn, "nginx") == "RUNNING"
	})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	if !strings.Contains(p.Out.String(), `msg="config changed before it was ready: restarting" program=php-fpm`) {
		t.Error("the restart of the STARTING program is not logged")
	}
}
