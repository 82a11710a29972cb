package integration

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// Failure behaviour when phpinit's own output stalls: a log driver that
// stopped reading leaves phpinit's stdout and stderr a full pipe.

// fullPipe returns a pipe whose buffer is already full and whose read end
// nobody reads (until the test ends: then whatever is left is logged on
// failure).
func fullPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Non-blocking only while filling: writes stop at EAGAIN once the
	// buffer is full. O_NONBLOCK lives in the open file description phpinit
	// will share, so it is cleared again before the pipe is handed over.
	fd := int(w.Fd())
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("x", 4095) + "\n")
	for {
		if _, err := syscall.Write(fd, chunk); err != nil {
			if err != syscall.EAGAIN {
				t.Fatal(err)
			}
			break
		}
	}
	// Single bytes fill the last partial page.
	for {
		if _, err := syscall.Write(fd, []byte{'\n'}); err != nil {
			break
		}
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// startPID1Stalled runs phpinit as PID 1 with stdout and stderr a full pipe.
func startPID1Stalled(t *testing.T, args ...string) (pid int, done <-chan int) {
	t.Helper()
	r, w := fullPipe(t)
	full := append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", phpinitBin}, args...)
	cmd := exec.Command("unshare", full...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan int, 1)
	go func() { ch <- exitCode(cmd.Wait()) }()
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		if kids := children(cmd.Process.Pid); len(kids) > 0 {
			pid = kids[0]
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("phpinit did not start")
	}
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		if t.Failed() {
			// Whatever phpinit managed to write, after the filler.
			r.SetReadDeadline(time.Now().Add(2 * time.Second))
			var out []byte
			buf := make([]byte, 1<<16)
			for {
				n, err := r.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
			}
			lines := strings.FieldsFunc(string(out), func(r rune) bool { return r == '\n' })
			var kept []string
			for _, l := range lines {
				if strings.Trim(l, "x") != "" {
					kept = append(kept, l)
				}
			}
			t.Logf("phpinit output that got through:\n%s", strings.Join(kept, "\n"))
		}
	})
	return pid, ch
}

// stalledSite is a site whose daemons log through phpinit's piped sinks
// (prefix), so that they never block on the full pipe themselves: what is
// under test is phpinit's own logging.
func stalledSite(t *testing.T) *site {
	t.Helper()
	needStack(t)
	// The hook's output takes the same queue as phpinit's log, and is more
	// than it holds.
	st := newSite(t, site{Script: "i=0; while [ $i -lt 20000 ]; do echo hook line $i; i=$((i+1)); done\n"})
	raw, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	const anchor = "    user: www-data\n"
	if strings.Count(cfg, anchor) != 2 {
		t.Fatalf("the site template changed: want two %q in:\n%s", anchor, cfg)
	}
	cfg = strings.ReplaceAll(cfg, anchor, anchor+"    stdout: prefix\n    stderr: prefix\n")
	writeConf(t, st.config(), cfg)
	return st
}

func TestStalledOutputKeepsSupervising(t *testing.T) {
	st := stalledSite(t)
	pid, done := startPID1Stalled(t, "run", "--config", st.config())
	sn := waitCtlStatus(t, st, "nginx and php-fpm RUNNING", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "nginx") == "RUNNING" && progState(sn, "php-fpm") == "RUNNING"
	})
	waitHTTP(t, st.healthURL("/readyz"), 200, 20*time.Second)
	old, _ := sn.Program("php-fpm")
	// ctl status shows namespace pids; kill the master by its host pid.
	master := masterPID(t, &pid1{t: t, PID: pid}, "php-fpm")
	if err := syscall.Kill(master, syscall.SIGKILL); err != nil {
		t.Fatalf("cannot kill php-fpm master %d: %v", master, err)
	}
	waitCtlStatus(t, st, "php-fpm restarted", func(sn *supervisor.Snapshot) bool {
		pr, _ := sn.Program("php-fpm")
		return pr.State == "RUNNING" && pr.PID != old.PID && pr.Restarts > old.Restarts
	})
	waitHTTP(t, st.healthURL("/readyz"), 200, 20*time.Second)
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)

	// The drops are counted under program "phpinit".
	fams := scrapeMetrics(t, st)
	if v, ok := metricValue(fams, "phpinit_log_lines_dropped_total", "program", "phpinit"); !ok || v == 0 {
		t.Errorf("phpinit_log_lines_dropped_total{program=\"phpinit\"} = %v (present %v), want > 0", v, ok)
	}

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// shutdown.grace is 15s in the site; a second more for the exit.
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d after SIGTERM, want 0", code)
		}
	case <-time.After(16 * time.Second):
		t.Fatal("phpinit did not exit within shutdown.grace + 1s of SIGTERM")
	}
}

// TestPartialLineShownWhileProgramRuns: a program's line without newline
// shows after a short quiet time, not at its exit, and the next run's
// output starts a line of its own.
func TestPartialLineShownWhileProgramRuns(t *testing.T) {
	_, p := startStack(t, site{NoStack: true, Programs: `  prompt:
    command: [sh, -c, 'printf "prompt-$$> "; sleep 1; exit 3']
    stdout: json
    start_seconds: 0s
`})
	p.waitOutput(`,"partial":true}`, 20*time.Second)
	// Two runs: two separate partial lines, never one glued line.
	waitFor(t, "a second run's prompt", 20*time.Second, func() bool {
		return strings.Count(p.Out.String(), `"partial":true`) >= 2
	})
	for _, line := range strings.Split(p.Out.String(), "\n") {
		if strings.Count(line, "prompt-") > 1 {
			t.Errorf("two runs' output in one line: %q", line)
		}
	}
}
