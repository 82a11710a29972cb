package integration

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func startStack(t *testing.T, s site) (*site, *pid1) {
	t.Helper()
	needStack(t)
	st := newSite(t, s)
	p := startPID1(t, "run", "--config", st.config())
	return st, p
}

func TestPageServedAsWWWData(t *testing.T) {
	st, p := startStack(t, site{Script: "export FOO=from-script\nBAR=not-exported\n"})
	body := waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	if !strings.Contains(body, "hello from") {
		t.Fatalf("page body %q", body)
	}
	if !strings.Contains(body, "FOO=from-script") {
		t.Errorf("variable exported by script.sh did not reach PHP: %q", body)
	}
	www, _ := user.Lookup("www-data")
	uid, _ := strconv.Atoi(www.Uid)
	for _, comm := range []string{"php-fpm", "nginx"} {
		m, _ := readProc(masterPID(t, p, comm))
		if m.UID != uid {
			t.Errorf("%s master runs as uid %d, want www-data (%d)", comm, m.UID, uid)
		}
	}
	// php-fpm and nginx overwrite /proc/PID/environ with their process
	// titles, so ask PHP itself.
	if !strings.Contains(body, " BAR= ") || !strings.Contains(body, "USER=www-data") {
		t.Errorf("want BAR (not exported) absent and USER=www-data: %q", body)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

func TestKill9PHPFPMMasterRecovers(t *testing.T) {
	st, p := startStack(t, site{})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	old := masterPID(t, p, "php-fpm")
	workers := children(old)
	if len(workers) == 0 {
		t.Fatal("php-fpm has no workers")
	}
	syscall.Kill(old, syscall.SIGKILL)
	deadline := time.Now().Add(20 * time.Second)
	var fresh int
	for time.Now().Before(deadline) {
		for _, k := range children(p.PID) {
			if pr, ok := readProc(k); ok && strings.HasPrefix(pr.Comm, "php-fpm") && k != old && pr.State != "Z" && !slices.Contains(workers, k) {
				fresh = k
			}
		}
		if fresh != 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fresh == 0 {
		t.Fatalf("no new php-fpm master after kill -9 of %d", old)
	}
	for _, w := range workers {
		if _, alive := readProc(w); alive {
			t.Errorf("orphaned worker %d of the killed master is still alive", w)
		}
	}
	body := waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	var servedBy int
	fmt.Sscanf(strings.TrimPrefix(body, "hello from "), "%d", &servedBy)
	if parent := hostPPID(servedBy, children(fresh)); parent != fresh {
		t.Errorf("page served by namespace pid %d, not a worker of the new master %d", servedBy, fresh)
	}
}

func TestOrphansReapedNoZombies(t *testing.T) {
	const n = 2000
	st, p := startStack(t, site{NoStack: true, Programs: fmt.Sprintf(`  forker:
    command: [sh, -c, 'i=0; while [ $i -lt %d ]; do (sleep 0.01 &); i=$((i+1)); done; echo forked-all; exec sleep 1000']
`, n)})
	_ = st
	p.waitOutput("forked-all", 60*time.Second)
	// Every orphan sleeps 10 ms, then exits as a child of PID 1: in the end
	// only the forker may be left, and no zombie.
	deadline := time.Now().Add(30 * time.Second)
	var left []proc
	for time.Now().Before(deadline) {
		left = descendants(p.PID)
		if len(left) == 1 && left[0].State != "Z" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	z := 0
	for _, d := range left {
		if d.State == "Z" {
			z++
		}
	}
	if z != 0 || len(left) != 1 {
		t.Errorf("%d processes (%d zombies) under phpinit, want just the forker", len(left), z)
	}
}

func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	st, p := startStack(t, site{})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	const n = 20
	var wg sync.WaitGroup
	results := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, body, err := get(st.url("/slow.php?ms=1500"))
			results[i] = fmt.Sprintf("%d %q %v", code, strings.TrimSpace(body), err)
		}(i)
	}
	// Wait until every request is inside a php-fpm worker.
	waitFor(t, "20 busy workers", 10*time.Second, func() bool {
		_, body, err := get(st.url("/stub_status"))
		var active int
		if err == nil {
			fmt.Sscanf(body, "Active connections: %d", &active)
		}
		return active >= n+1
	})
	p.signal(syscall.SIGTERM)
	code := p.wait(30 * time.Second)
	wg.Wait()
	for i, r := range results {
		if !strings.HasPrefix(r, `200 "slow done"`) {
			t.Errorf("request %d during stop: %s", i, r)
		}
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if left := descendants(p.cmd.Process.Pid); len(left) > 0 {
		t.Errorf("processes survived phpinit: %+v", left)
	}
}

func TestIgnoredStopSignalIsKilled(t *testing.T) {
	_, p := startStack(t, site{NoStack: true, Programs: `  stubborn:
    command: [sh, -c, 'trap "" QUIT TERM; echo ignoring; while :; do sleep 0.1; done']
    stop_timeout: 500ms
    start_seconds: 0s
`})
	p.waitOutput("ignoring", 10*time.Second)
	began := time.Now()
	p.signal(syscall.SIGTERM)
	code := p.wait(20 * time.Second)
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if took := time.Since(began); took < 500*time.Millisecond {
		t.Errorf("stopped after %v: stop_timeout was not waited for", took)
	}
	if !strings.Contains(p.Out.String(), "stop timeout: killing process group") {
		t.Errorf("no log of the SIGKILL escalation:\n%s", p.Out)
	}
}

func TestCrashLoopIsFatal(t *testing.T) {
	_, p := startStack(t, site{NoStack: true, Programs: `  crasher:
    command: [sh, -c, 'echo crashing; exit 4']
    start_retries: 3
    backoff: {initial: 100ms, max: 1s}
`})
	code := p.wait(30 * time.Second)
	if code != 4 {
		t.Errorf("exit status %d, want the critical program's 4", code)
	}
	out := p.Out.String()
	if got := strings.Count(out, "msg=started program=crasher"); got != 4 {
		t.Errorf("%d starts, want 4 (1 + start_retries 3)", got)
	}
	var delays []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="backing off" program=crasher`) {
			delays = append(delays, line[strings.Index(line, "delay="):])
		}
	}
	if len(delays) != 3 || !strings.Contains(delays[0], "failures=1") || !strings.Contains(delays[2], "failures=3") {
		t.Errorf("backoff not logged once per failed start: %q", delays)
	}
	if !strings.Contains(out, "gave up") {
		t.Error("FATAL not logged")
	}
}

func TestHookFailureAndTimeout(t *testing.T) {
	needStack(t)
	st := newSite(t, site{NoStack: true, Programs: "  idle: {command: [sleep, '1000']}\n", Script: "echo 'cannot reach database' >&2; exit 3\n"})
	p := startPID1(t, "run", "--config", st.config())
	if code := p.wait(20 * time.Second); code != 3 {
		t.Errorf("failing script: exit %d, want 3", code)
	}
	if out := p.Out.String(); !strings.Contains(out, "cannot reach database") || !strings.Contains(out, "hook failed") {
		t.Errorf("the script's message or the failure is missing:\n%s", out)
	}
	os.WriteFile(st.path("script/script.sh"), []byte("echo hanging; sleep 100\n"), 0o644)
	p = startPID1(t, "run", "--config", st.config())
	if code := p.wait(20 * time.Second); code != 124 {
		t.Errorf("hanging script: exit %d, want 124", code)
	}
}

func TestInitDHooksRunInOrder(t *testing.T) {
	needStack(t)
	st := newSite(t, site{NoStack: true, Script: "export STEP=zero\n", Programs: "  idle:\n    command: [sh, -c, 'cat " + "$ORDER_FILE; exec sleep 1000']\n    environment: {ORDER_FILE: /dev/null}\n"})
	order := st.path("log/order")
	for _, h := range []string{"20-second", "10-first"} {
		os.WriteFile(st.path("script/init.d/"+h), []byte(fmt.Sprintf("#!/bin/sh\necho %s $STEP >> %s\n", h, order)), 0o755)
	}
	os.WriteFile(st.path("script/init.d/30-not-executable"), []byte("#!/bin/sh\necho bad >> "+order+"\n"), 0o644)
	p := startPID1(t, "run", "--config", st.config())
	p.waitOutput("msg=running program=idle", 20*time.Second)
	got, _ := os.ReadFile(order)
	if string(got) != "10-first zero\n20-second zero\n" {
		t.Errorf("init.d ran %q", got)
	}
}

func TestCheckReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(cfg, []byte(`programs:
  nginx:
    command: [nginx]
    stop_signal: QUITE
    depends_on: [php]
  php-fpm:
    command: [php-fpm8.2]
    autorestrat: always
`), 0o644)
	out, code := runPhpinit(t, "check", "--offline", "--config", cfg)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		`programs.nginx.stop_signal: unknown signal "QUITE"`,
		`programs.php-fpm.autorestrat: unknown key`,
		`programs.nginx.depends_on`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if n := len(strings.Split(strings.TrimSpace(out), "\n")); n < 3 {
		t.Errorf("%d lines, want one per error", n)
	}
}

func TestOneShotCommand(t *testing.T) {
	needRoot(t)
	p := startPID1(t, "--", "sh", "-c", "exit 7")
	if code := p.wait(20 * time.Second); code != 7 {
		t.Errorf("phpinit -- sh -c 'exit 7' exited %d", code)
	}
	p = startPID1(t, "sleep", "100")
	waitFor(t, "sleep under phpinit", 10*time.Second, func() bool { return len(children(p.PID)) == 1 })
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 143 {
		t.Errorf("phpinit sleep 100 + SIGTERM exited %d, want 143", code)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPrefixedOutputKeepsLongLinesWhole(t *testing.T) {
	_, p := startStack(t, site{NoStack: true, Programs: `  talker:
    command: [sh, -c, 'head -c 1048576 /dev/zero | tr "\0" a; echo; echo "to stderr" >&2; echo finished; exec sleep 1000']
    stdout: prefix
    stderr: json
`})
	p.waitOutput("talker | finished", 20*time.Second)
	out := p.Out.String()
	long := "talker | " + strings.Repeat("a", 1<<20) + "\n"
	if !strings.Contains(out, long) {
		t.Error("the 1 MiB line did not arrive whole, with its prefix, on one line")
	}
	if !strings.Contains(out, `"program":"talker","stream":"stderr","line":"to stderr"}`) {
		t.Errorf("stderr line not wrapped as JSON:\n%.2000s", out)
	}
}
