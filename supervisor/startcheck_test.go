package supervisor

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/proc"
)

// What php-fpm 8.2 and nginx 1.22 print for broken configs (seen here).
const (
	fpmBadOwner = "[02-Dec-2026 03:59:56] ERROR: [pool www] cannot get uid for user 'nosuchuser': Success (0)\n" +
		"[02-Dec-2026 03:59:56] ERROR: FPM initialization failed\n"
	nginxBadDirective = "nginx: [warn] the \"user\" directive makes sense only if the master process runs with super-user privileges, ignored in /etc/nginx/nginx.conf:1\n" +
		"nginx: [emerg] unknown directive \"bogus\" in /data/conf/nginx/site.conf:3\n" +
		"nginx: configuration file /etc/nginx/nginx.conf test failed\n"
)

// checkFake answers the program's checks with result, counting them; with
// hold set it keeps the reply for the test to give.
type checkFake struct {
	result  proc.Result
	checks  int
	hold    bool
	pending func(proc.Result)
}

func (h *loopHarness) fakeChecks(r proc.Result) *checkFake {
	f := &checkFake{result: r}
	h.s.check = func(_ *program, done func(proc.Result)) {
		f.checks++
		if f.hold {
			f.pending = done
			return
		}
		done(f.result)
	}
	return f
}

func failedCheck(out string) proc.Result {
	return proc.Result{Code: 1, Status: syscall.WaitStatus(1 << 8), Output: []byte(out)}
}

func checkedSpec(name string) ProgramSpec {
	sp := fakeSpec(name)
	sp.Check = []string{"php-fpm8.2", "-t"}
	sp.ReloadSignal = syscall.SIGUSR2
	return sp
}

// A start that fails while the check fails is FATAL at once: one start,
// one check, no backoff, the check's line as the reason.
func TestFailedStartFailingCheckIsFatal(t *testing.T) {
	h := newLoopHarness(t, checkedSpec("php-fpm"))
	checks := h.fakeChecks(failedCheck(fpmBadOwner))
	h.want("php-fpm", Starting)
	h.advance(time.Second) // no check before or during a first start
	if checks.checks != 0 {
		t.Fatalf("%d checks before any start failed", checks.checks)
	}
	h.exit("php-fpm", 78)
	p := h.want("php-fpm", Fatal)
	h.advance(time.Minute)
	h.want("php-fpm", Fatal)
	if len(h.spawned) != 1 || checks.checks != 1 {
		t.Errorf("%d starts and %d checks, want 1 and 1", len(h.spawned), checks.checks)
	}
	want := "config invalid: [pool www] cannot get uid for user 'nosuchuser'"
	st, _ := h.s.Snapshot().Program("php-fpm")
	if st.LastExit == nil || st.LastExit.Desc != want || st.LastExit.Code != 78 {
		t.Errorf("last exit %+v, want code 78 and %q", st.LastExit, want)
	}
	if p.goal != GoalDown || h.s.stopping {
		t.Errorf("goal %s, stopping %v: a non-critical FATAL program stays down, phpinit up", p.goal, h.s.stopping)
	}
}

// A critical program whose check fails stops phpinit with EX_CONFIG,
// whatever status the program exited with.
func TestFailedStartFailingCheckCritical(t *testing.T) {
	sp := checkedSpec("nginx")
	sp.Critical = true
	h := newLoopHarness(t, sp)
	h.fakeChecks(failedCheck(nginxBadDirective))
	h.exit("nginx", 1)
	h.want("nginx", Fatal)
	if !h.s.stopping || h.s.exitCode != ExitConfigInvalid {
		t.Errorf("stopping %v, exit code %d, want a stop with %d", h.s.stopping, h.s.exitCode, ExitConfigInvalid)
	}
	if len(h.spawned) != 1 {
		t.Errorf("%d starts, want 1", len(h.spawned))
	}
}

// When the check passes the failure is the program's, not its config's:
// the usual backoff, and FATAL after start_retries, one check per failure.
func TestFailedStartPassingCheckBacksOff(t *testing.T) {
	h := newLoopHarness(t, checkedSpec("web"))
	checks := h.fakeChecks(proc.Result{})
	for i := 1; i <= 3; i++ {
		h.exit("web", 1)
		p := h.want("web", Backoff)
		if p.failures != i {
			t.Fatalf("failures %d after failed start %d", p.failures, i)
		}
		h.wantPending(time.Second << (i - 1))
		h.advance(time.Second << (i - 1))
		h.want("web", Starting)
	}
	h.exit("web", 1)
	h.want("web", Fatal)
	if len(h.spawned) != 4 || checks.checks != 4 {
		t.Errorf("%d starts and %d checks, want 4 and 4", len(h.spawned), checks.checks)
	}
	st, _ := h.s.Snapshot().Program("web")
	if st.LastExit == nil || strings.Contains(st.LastExit.Desc, "config invalid") {
		t.Errorf("last exit %+v: a passing check is no config error", st.LastExit)
	}
}

// A check that cannot run (or times out) proves nothing: normal backoff.
func TestFailedStartCheckNotRunBacksOff(t *testing.T) {
	h := newLoopHarness(t, checkedSpec("web"))
	h.fakeChecks(proc.Result{Code: 127, StartErr: syscall.ENOENT})
	h.exit("web", 1)
	h.want("web", Backoff)
	h.advance(time.Second)
	h.want("web", Starting)
}

// A program killed by a signal, or that exited 0 too soon, is not checked:
// that is no config error.
func TestFailedStartBySignalNotChecked(t *testing.T) {
	h := newLoopHarness(t, checkedSpec("web"))
	checks := h.fakeChecks(failedCheck(fpmBadOwner))
	h.exit("web", -int(syscall.SIGKILL))
	h.want("web", Backoff)
	h.advance(time.Second)
	h.exit("web", 0)
	h.want("web", Backoff)
	if checks.checks != 0 {
		t.Errorf("%d checks, want none", checks.checks)
	}
}

// The check's run counts toward the backoff delay.
func TestFailedStartCheckTimeCountsTowardBackoff(t *testing.T) {
	h := newLoopHarness(t, checkedSpec("web"))
	checks := h.fakeChecks(proc.Result{})
	checks.hold = true
	h.exit("web", 1)
	h.want("web", Backoff)
	h.advance(300 * time.Millisecond)
	checks.pending(proc.Result{})
	h.settle()
	h.wantPending(700 * time.Millisecond)
}

// A stop while the check runs wins; its late result changes nothing.
func TestStopDuringStartCheck(t *testing.T) {
	h := newLoopHarness(t, checkedSpec("web"))
	checks := h.fakeChecks(failedCheck(fpmBadOwner))
	checks.hold = true
	h.exit("web", 78)
	h.want("web", Backoff)
	h.s.progs["web"].goal = GoalDown
	h.s.progs["web"].apply(h.s, EvStop)
	h.settle()
	h.want("web", Stopped)
	checks.pending(failedCheck(fpmBadOwner))
	h.settle()
	if p := h.want("web", Stopped); p.configErr != "" {
		t.Errorf("a stale check result was recorded: %q", p.configErr)
	}
}

// Reloading the FATAL program re-checks; once the check passes it starts
// again, with a fresh failure streak and no stale reason.
func TestReloadFixesConfigInvalid(t *testing.T) {
	h := newLoopHarness(t, checkedSpec("php-fpm"))
	checks := h.fakeChecks(failedCheck(fpmBadOwner))
	h.exit("php-fpm", 78)
	h.want("php-fpm", Fatal)

	var got []error
	checks.result = failedCheck("[02-Dec-2026 03:59:56] ERROR: [pool debian] cannot get gid for group 'nosuchgroup': Success (0)\n")
	h.s.reloadProgram(h.s.progs["php-fpm"], func(err error) { got = append(got, err) })
	h.settle()
	h.want("php-fpm", Fatal)
	if len(got) != 1 || got[0] == nil || len(h.spawned) != 1 {
		t.Fatalf("reload with the config still broken: %v, %d starts", got, len(h.spawned))
	}
	st, _ := h.s.Snapshot().Program("php-fpm")
	if want := "config invalid: [pool debian] cannot get gid for group 'nosuchgroup'"; st.LastExit == nil || st.LastExit.Desc != want {
		t.Errorf("after a failed reload: last exit %+v, want %q", st.LastExit, want)
	}

	checks.result = proc.Result{}
	h.s.reloadProgram(h.s.progs["php-fpm"], func(err error) { got = append(got, err) })
	h.advance(time.Second) // the throttle: one start a second
	p := h.want("php-fpm", Starting)
	if got[1] != nil || len(h.spawned) != 2 || p.failures != 0 || p.configErr != "" {
		t.Errorf("reload after the fix: %v, %d starts, %d failures, reason %q", got[1], len(h.spawned), p.failures, p.configErr)
	}
}

func TestMeaningfulLine(t *testing.T) {
	cases := []struct{ out, line, file string }{
		{fpmBadOwner, "[pool www] cannot get uid for user 'nosuchuser'", ""},
		{nginxBadDirective, `[emerg] unknown directive "bogus" in /data/conf/nginx/site.conf:3`, "/data/conf/nginx/site.conf"},
		{"nginx: [emerg] open() \"/etc/nginx/missing.conf\" failed (2: No such file or directory) in /etc/nginx/nginx.conf:12\n",
			`[emerg] open() "/etc/nginx/missing.conf" failed (2: No such file or directory) in /etc/nginx/nginx.conf:12`, "/etc/nginx/nginx.conf"},
		{"/data/conf/php-fpm/debian.conf: listen.owner = www-data, but php-fpm runs as www and cannot give its socket away\n",
			"/data/conf/php-fpm/debian.conf: listen.owner = www-data, but php-fpm runs as www and cannot give its socket away", "/data/conf/php-fpm/debian.conf"},
		{"[02-Dec-2026 03:59:52] ERROR: failed to open error_log (/proc/self/fd/2): Permission denied (13)\n",
			"failed to open error_log (/proc/self/fd/2): Permission denied (13)", ""},
		{"\n  \nnginx: configuration file /etc/nginx/nginx.conf test failed\n", "configuration file /etc/nginx/nginx.conf test failed", "/etc/nginx/nginx.conf"},
		{"2026/12/02 04:03:12 [emerg] 35#35: unknown directive \"bogus\" in /x/bad.conf:1\n",
			`[emerg] unknown directive "bogus" in /x/bad.conf:1`, "/x/bad.conf"},
		{"", "", ""},
	}
	for _, c := range cases {
		line := meaningfulLine(c.out)
		if line != c.line {
			t.Errorf("meaningfulLine(%q) = %q, want %q", c.out, line, c.line)
		}
		if f := fileNamed(line); f != c.file {
			t.Errorf("fileNamed(%q) = %q, want %q", line, f, c.file)
		}
	}
	if r := checkReason(proc.Result{Code: 1, Status: syscall.WaitStatus(1 << 8)}); r != "check exit status 1" {
		t.Errorf("reason without output: %q", r)
	}
}
