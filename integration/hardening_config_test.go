package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// Failure behaviour for bad edits of phpinit.yaml: refused alike at start,
// at reload (the running config stays) and by `phpinit check`.

const reloadRefused = "config reload failed"

func daemonPIDs(t *testing.T, st *site) string {
	t.Helper()
	sn := ctlStatus(t, st)
	var b strings.Builder
	for _, name := range []string{"php-fpm", "nginx"} {
		pr, _ := sn.Program(name)
		fmt.Fprintf(&b, "%s=%s/%d ", name, pr.State, pr.PID)
	}
	return b.String()
}

func TestEmptiedConfigRefusedEverywhere(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	p := startReloadStack(t, st)
	base, err := os.ReadFile(st.config())
	mustOK(t, err)
	before := daemonPIDs(t, st)

	bodies := []string{"", "log: {level: debug}\n", "programs: {}\n"}
	for _, body := range bodies {
		n := strings.Count(p.Out.String(), reloadRefused)
		replaceConf(t, st.config(), body)
		waitFor(t, "the config without programs to be refused", 20*time.Second, func() bool {
			return strings.Count(p.Out.String(), reloadRefused) > n
		})
		if now := daemonPIDs(t, st); now != before {
			t.Errorf("config %q changed the daemons: %s, was %s", body, now, before)
		}
		waitHTTP(t, st.healthURL("/readyz"), 200, 20*time.Second)

		// check says the same.
		out, err := exec.Command(phpinitBin, "check", "--offline", "--config", st.config()).CombinedOutput()
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), "programs: no programs configured") {
			t.Errorf("check of %q: exit %d, %s; want 1 and the reason", body, code, out)
		}
		// And so does a start.
		other := filepath.Join(st.Dir, "empty.yaml")
		writeConf(t, other, body)
		out, err = exec.Command(phpinitBin, "run", "--config", other).CombinedOutput()
		if code := exitCode(err); code != 78 || !strings.Contains(string(out), "programs: no programs configured") {
			t.Errorf("start with %q: exit %d, %s; want 78 and the reason", body, code, out)
		}
	}
	if !strings.Contains(p.Out.String(), "programs: no programs configured") {
		t.Errorf("the refusal does not say why:\n%s", p.Out)
	}
	// The watch still works: the real config comes back.
	replaceConf(t, st.config(), string(base)+"  extra:\n    command: [sleep, \"1000\"]\n    start_seconds: 0s\n")
	waitCtlStatus(t, st, "extra RUNNING", func(sn *supervisor.Snapshot) bool { return progState(sn, "extra") == "RUNNING" })
}

// TestConfigReplacedByFIFO: a FIFO at phpinit.yaml is a refused reload, not
// a read that waits for a writer forever, and SIGTERM still stops phpinit.
func TestConfigReplacedByFIFO(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	p := startReloadStack(t, st)
	before := daemonPIDs(t, st)
	tmp := st.config() + ".fifo"
	if err := syscall.Mkfifo(tmp, 0o644); err != nil {
		t.Fatal(err)
	}
	n := strings.Count(p.Out.String(), reloadRefused)
	mustOK(t, os.Rename(tmp, st.config()))
	waitFor(t, "the FIFO to be refused", 20*time.Second, func() bool {
		return strings.Count(p.Out.String(), reloadRefused) > n
	})
	if !strings.Contains(p.Out.String(), "not a regular file (a FIFO)") {
		t.Errorf("the refusal does not say why:\n%s", p.Out)
	}
	// SIGHUP reads it again: refused again, nothing blocks.
	p.signal(syscall.SIGHUP)
	waitFor(t, "the FIFO to be refused on SIGHUP", 20*time.Second, func() bool {
		return strings.Count(p.Out.String(), reloadRefused) > n+1
	})
	if now := daemonPIDs(t, st); now != before {
		t.Errorf("the FIFO changed the daemons: %s, was %s", now, before)
	}
	p.signal(syscall.SIGTERM)
	// shutdown.grace is 15s in the site, plus a second.
	if code := p.wait(16 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}
