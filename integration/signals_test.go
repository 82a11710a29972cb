package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killFromInside sends sig to PID 1 of p's namespace from a process inside
// it, as a program in the container would (kill(2), SI_USER).
func killFromInside(t *testing.T, p *pid1, sig syscall.Signal) {
	t.Helper()
	out, err := exec.Command("nsenter", "-t", fmt.Sprint(p.PID), "-p", "--",
		"sh", "-c", fmt.Sprintf("kill -%d 1", int(sig))).CombinedOutput()
	if err != nil {
		t.Fatalf("kill -%d 1 inside the namespace: %v: %s", int(sig), err, out)
	}
}

func needNsenter(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("nsenter (util-linux) not installed")
	}
}

// TestSupervisePID1SurvivesKill: every signal a process in the container can
// send to PID 1 leaves phpinit and the site running, the programs not
// restarted. Before, ABRT, ILL, TRAP, BUS, FPE, SEGV, STKFLT and SYS made
// the Go runtime dump its goroutines and exit 2.
func TestSupervisePID1SurvivesKill(t *testing.T) {
	needNsenter(t)
	st, p := startStack(t, site{})
	waitHTTP(t, st.url("/index.php"), 200, 30*time.Second)
	fpm, nginx := masterPID(t, p, "php-fpm"), masterPID(t, p, "nginx")

	logged := []syscall.Signal{
		syscall.SIGABRT, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS,
		syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS,
		syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM, syscall.SIGIO,
		syscall.SIGPWR, syscall.SIGWINCH, syscall.SIGUSR2, syscall.SIGALRM,
		syscall.Signal(35), syscall.Signal(50), syscall.Signal(64),
	}
	for _, sig := range logged {
		killFromInside(t, p, sig)
		// Logged as ignored, so the next one is sent only once this one
		// was handled.
		re := regexp.MustCompile(`msg="ignoring signal" signal="?` + regexp.QuoteMeta(signalLogName(sig)) + `"?\n`)
		waitFor(t, "phpinit to log "+signalLogName(sig), 20*time.Second, func() bool {
			return re.MatchString(p.Out.String())
		})
	}
	// Left to the kernel (no handler: dropped for PID 1) or to the Go
	// runtime (PROF, URG, 33), or ignored unlogged (PIPE): nothing to wait
	// for but survival.
	for _, sig := range []syscall.Signal{
		syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGCONT,
		syscall.SIGPROF, syscall.SIGURG, syscall.SIGPIPE, // PIPE: ignored, not logged
		syscall.Signal(32), syscall.Signal(33), syscall.Signal(34),
	} {
		killFromInside(t, p, sig)
	}
	killFromInside(t, p, syscall.SIGUSR2)
	waitFor(t, "the last signal handled", 20*time.Second, func() bool {
		return strings.Count(p.Out.String(), `msg="ignoring signal" signal=USR2`) == 2
	})

	select {
	case <-p.done:
		t.Fatalf("phpinit exited %d", p.code)
	default:
	}
	if pr, _ := readProc(p.PID); pr.State == "T" {
		t.Errorf("phpinit is stopped (state %s)", pr.State)
	}
	waitHTTP(t, st.url("/index.php"), 200, 10*time.Second)
	if masterPID(t, p, "php-fpm") != fpm || masterPID(t, p, "nginx") != nginx {
		t.Errorf("a program was restarted")
	}
	if strings.Contains(p.Out.String(), "goroutine ") {
		t.Errorf("the runtime dumped its goroutines")
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
}

// signalLogName is how phpinit's log names sig.
func signalLogName(sig syscall.Signal) string {
	for n, s := range map[string]syscall.Signal{
		"ABRT": syscall.SIGABRT, "ILL": syscall.SIGILL, "TRAP": syscall.SIGTRAP, "BUS": syscall.SIGBUS,
		"FPE": syscall.SIGFPE, "SEGV": syscall.SIGSEGV, "STKFLT": syscall.SIGSTKFLT, "SYS": syscall.SIGSYS,
		"XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ, "VTALRM": syscall.SIGVTALRM, "IO": syscall.SIGIO,
		"PWR": syscall.SIGPWR, "WINCH": syscall.SIGWINCH, "USR2": syscall.SIGUSR2, "ALRM": syscall.SIGALRM,
	} {
		if s == sig {
			return n
		}
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// forwarded is every signal one-off mode passes on (README: Signals).
var forwarded = func() []int {
	list := []int{1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 18, 20, 21, 22, 24, 25, 26, 28, 29, 30, 31}
	for n := 35; n <= 64; n++ {
		list = append(list, n)
	}
	return list
}()

// TestOneShotForwardsEverySignal: the one-off command gets each signal of
// the README's list (ABRT, SEGV, PIPE, XCPU, real-time ones, ...), with
// phpinit as PID 1.
func TestOneShotForwardsEverySignal(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	stop := filepath.Join(dir, "stop")
	var script strings.Builder
	for _, n := range forwarded {
		fmt.Fprintf(&script, "trap 'echo got %d' %d\n", n, n)
	}
	// wait returns on every trapped signal; the loop ends on the stop file.
	fmt.Fprintf(&script, "sleep 1000 & s=$!\necho ready\nuntil [ -e %s ]; do wait $s; done\nkill $s\nexit 0\n", stop)
	p := startPID1(t, "--", "sh", "-c", script.String())
	p.waitOutput("ready\n", 20*time.Second)
	for _, n := range forwarded {
		p.signal(syscall.Signal(n))
		p.waitOutput(fmt.Sprintf("got %d\n", n), 20*time.Second)
	}
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGUSR1)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// TestOneShotSignalNotLeftIgnored: what phpinit subscribes to reaches the
// command with its default disposition, not ignored (SigIgn in
// /proc/self/status), so a plain `sleep` still dies of SIGTERM.
func TestOneShotSignalNotLeftIgnored(t *testing.T) {
	needRoot(t)
	p := startPID1(t, "--", "sh", "-c", "grep -E '^Sig(Ign|Cgt):' /proc/self/status")
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Out)
	}
	m := regexp.MustCompile(`SigIgn:\s*(\w+)`).FindStringSubmatch(p.Out.String())
	if m == nil {
		t.Fatalf("no SigIgn line: %s", p.Out)
	}
	ign, err := strconv.ParseUint(m[1], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Signals 32-34 belong to the C library and the Go runtime: phpinit
	// never subscribes to them, and whether they arrive ignored depends on
	// what started the test (seen: 32 ignored under one CI shell).
	const libc = 1<<31 | 1<<32 | 1<<33
	if ign&^libc != 0 {
		t.Errorf("the command starts with signals ignored: %s", p.Out)
	}
}

// TestOneShotCannotExecute: as PID 1, a command that exists but cannot be
// executed gives 126, one that is nowhere 127, as bash and tini say.
func TestOneShotCannotExecute(t *testing.T) {
	needRoot(t)
	dir, err := os.MkdirTemp("", "phpinit-exec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\nexit 0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "badinterp"), []byte("#!/nonexistent/sh\nexit 0\n"), 0o755)
	cfg := filepath.Join(dir, "phpinit.yaml")
	os.WriteFile(cfg, []byte("log: {level: debug}\nhooks: {script: /nonexistent, dir: /nonexistent}\n"), 0o644)
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--", filepath.Join(dir, "adir")}, 126},
		{[]string{filepath.Join(dir, "adir")}, 126},
		{[]string{"--", "adir"}, 126},   // a directory found on PATH
		{[]string{"--", "noexec"}, 126}, // no execute permission, found on PATH
		{[]string{"--", filepath.Join(dir, "noexec")}, 126},
		{[]string{"--", filepath.Join(dir, "badinterp")}, 126},
		{[]string{"--", "phpinit-no-such-command"}, 127},
		{[]string{"--", filepath.Join(dir, "missing")}, 127},
	} {
		args := append([]string{"--config", cfg}, tc.args...)
		p := startPID1(t, args...)
		if code := p.wait(20 * time.Second); code != tc.code {
			t.Errorf("phpinit %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.code, p.Out)
		}
	}
}

// TestStopSignalAroundTheHooks: a TERM as the last act of a hook, or right
// after the hooks while phpinit sets up, stops phpinit gracefully: with 130
// and nothing started when it came during the hooks, with 0 and every
// program stopped when it came later. Before, a TERM that arrived as the
// hooks ended was lost: the programs started and ran until SIGKILL.
func TestStopSignalAroundTheHooks(t *testing.T) {
	needStack(t)
	for _, tc := range []struct {
		name, script, initd string
	}{
		{name: "script.sh ends with it", script: "echo ready-hook\nkill -TERM 1\n"},
		{name: "init.d ends with it", initd: "#!/bin/sh\necho ready-hook\nkill -TERM 1\n"},
		// A daemon left by the hook sends it the moment the hook is
		// reaped: as the hooks end.
		{name: "as the hook is reaped", initd: "#!/bin/sh\necho ready-hook\nme=$$\n" +
			"(while [ -e /proc/$me ]; do :; done; kill -TERM 1) >/dev/null 2>&1 &\n"},
		// ... and once phpinit's control socket exists: after the hooks,
		// before or as the loop begins.
		{name: "once the hooks are over", initd: "#!/bin/sh\necho ready-hook\n" +
			"(while [ ! -S \"$SOCK\" ]; do :; done; kill -TERM 1) >/dev/null 2>&1 &\n"},
	} {
		for i := range 5 {
			t.Run(fmt.Sprintf("%s/%d", tc.name, i), func(t *testing.T) {
				st := newSite(t, site{NoStack: true, Script: tc.script,
					Programs: "  idle: {command: [sleep, '1000'], stop_signal: TERM}\n"})
				if tc.initd != "" {
					os.WriteFile(st.path("script/init.d/10-last"), []byte(tc.initd), 0o755)
				}
				t.Setenv("SOCK", st.path("run/phpinit.sock"))
				if i%2 == 1 {
					// Two Ps make the old window (a TERM dispatched while
					// no loop listened) far easier to hit.
					t.Setenv("GOMAXPROCS", "2")
				}
				p := startPID1(t, "run", "--config", st.config())
				code := p.wait(60 * time.Second)
				out := p.Out.String()
				t.Logf("exit %d", code)
				switch {
				case code == 130:
					if strings.Contains(out, "msg=started") {
						t.Errorf("exit 130, but a program started:\n%s", out)
					}
				case code == 0:
					if strings.Contains(out, "msg=started") && !strings.Contains(out, "msg=stopped") {
						t.Errorf("a program started and was not stopped:\n%s", out)
					}
				default:
					t.Errorf("exit %d, want 130 (stopped during the hooks) or 0:\n%s", code, out)
				}
				if strings.Contains(out, "grace exhausted") {
					t.Errorf("the stop was not graceful:\n%s", out)
				}
			})
		}
	}
}

// TestStopSignalBeforeReadyAndDuringReload: a TERM while a program is
// still STARTING, and one while a reload's check runs, stop phpinit
// gracefully with 0.
func TestStopSignalBeforeReadyAndDuringReload(t *testing.T) {
	needStack(t)
	t.Run("before ready", func(t *testing.T) {
		st := newSite(t, site{NoStack: true, Programs: "  slow:\n    command: [sleep, '1000']\n    stop_signal: TERM\n" +
			"    ready: {exec: [sh, -c, 'touch {{DIR}}/log/probed; exit 1'], interval: 100ms}\n"})
		fixDir(t, st)
		p := startPID1(t, "run", "--config", st.config())
		waitFor(t, "a readiness probe", 30*time.Second, func() bool {
			_, err := os.Stat(st.path("log/probed"))
			return err == nil
		})
		p.signal(syscall.SIGTERM)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
	})
	t.Run("during a reload", func(t *testing.T) {
		st := newSite(t, site{NoStack: true, Programs: "  web:\n    command: [sleep, '1000']\n    stop_signal: TERM\n" +
			"    reload_signal: HUP\n    check: [sh, -c, 'touch {{DIR}}/log/checking; sleep 1000']\n"})
		fixDir(t, st)
		p := startPID1(t, "run", "--config", st.config())
		p.waitOutput("msg=running program=web", 30*time.Second)
		p.signal(syscall.SIGHUP)
		waitFor(t, "the reload's check", 30*time.Second, func() bool {
			_, err := os.Stat(st.path("log/checking"))
			return err == nil
		})
		p.signal(syscall.SIGTERM)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
		if out := p.Out.String(); strings.Contains(out, "grace exhausted") {
			t.Errorf("the stop was not graceful:\n%s", out)
		}
	})
}

// fixDir puts the site's directory where the config says {{DIR}}.
func fixDir(t *testing.T, st *site) {
	t.Helper()
	raw, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.config(), []byte(strings.ReplaceAll(string(raw), "{{DIR}}", st.Dir)), 0o644); err != nil {
		t.Fatal(err)
	}
}
