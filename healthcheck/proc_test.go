package healthcheck

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in          string
		ppid        int
		ticks       uint64
		errContains string
	}{
		{"42 (nginx) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0", 1, 10, ""},
		// comm may hold spaces and parentheses (prctl PR_SET_NAME).
		{"43 (a) b (c)) R 42 1 1 0 -1 0 0 0 0 0 100 250 0 0", 42, 350, ""},
		{"44 nginx S 1", 0, 0, "no comm"},
		{"45 (x) S 1 2 3", 0, 0, "fields after comm"},
		{"46 (x) S one 1 1 0 -1 0 0 0 0 0 1 1 0 0", 0, 0, "ppid"},
		// cutime and cstime: time of the children it reaped.
		{"47 (php-fpm) S 1 47 47 0 -1 0 0 0 0 0 5 5 300 40 20 0", 1, 350, ""},
	} {
		ppid, ticks, err := parseStat([]byte(tc.in))
		if tc.errContains != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errContains) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.errContains)
			}
			continue
		}
		if err != nil || ppid != tc.ppid || ticks != tc.ticks {
			t.Errorf("%q: %d %d %v, want %d %d", tc.in, ppid, ticks, err, tc.ppid, tc.ticks)
		}
	}
}

func TestProcUsageUnknownPID(t *testing.T) {
	pt, err := writeFakeProc(t).readProcTable()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pt.usage(999); ok {
		t.Error("usage of a PID that is not there")
	}
	if u, ok := pt.usage(300); !ok || u.Procs != 1 || u.CPUSeconds != 19.98 {
		t.Errorf("usage(300) = %+v %v", u, ok)
	}
}

// A real process tree: `sh -c 'sleep 100 & sleep 100'` is a shell with a
// background sleep (the shell may exec the last one in place).
func TestProcTreeReal(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 100 & sleep 100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid

	var u treeUsage
	deadline := time.Now().Add(5 * time.Second)
	for {
		pt, err := hostProcFS().readProcTable()
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		if u, ok = pt.usage(pid); ok && u.Procs >= 2 && u.RSSBytes > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tree of %d never showed 2 processes: %+v", pid, u)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if u.CPUSeconds < 0 {
		t.Errorf("cpu %v", u.CPUSeconds)
	}
	// Two processes sharing sh's and sleep's pages: PSS counts them once.
	if !u.HasPSS || u.PSSBytes == 0 || u.PSSBytes >= u.RSSBytes {
		t.Errorf("pss %d (read %v), rss %d: want 0 < pss < rss", u.PSSBytes, u.HasPSS, u.RSSBytes)
	}

	// And through /metrics.
	sn := &supervisor.Snapshot{Programs: []supervisor.ProgramStatus{{Name: "sleepers", State: "RUNNING", PID: pid}}}
	mfs := parseMetrics(t, scrape(t, ServerOptions{Source: newFakeSource(sn)}))
	if rss := value(t, mfs, "phpinit_program_memory_rss_bytes", map[string]string{"program": "sleepers"}); rss < float64(u.RSSBytes)/2 {
		t.Errorf("rss %v, the tree alone had %d", rss, u.RSSBytes)
	}
	value(t, mfs, "phpinit_program_cpu_seconds_total", map[string]string{"program": "sleepers"})
	if pss := value(t, mfs, "phpinit_program_memory_pss_bytes", map[string]string{"program": "sleepers"}); pss <= 0 {
		t.Errorf("pss %v", pss)
	}
}
