package integration

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// Failure behaviour of watches that point where no config is: into /proc
// (whose /proc/kmsg blocks a reader) or at a tree beyond the watch limits.

// swapForSymlink replaces the directory at path with a symlink to target.
func swapForSymlink(t *testing.T, path, target string) {
	t.Helper()
	mustOK(t, os.Rename(path, path+".old"))
	mustOK(t, os.Symlink(target, path))
}

func waitDaemonsRunning(t *testing.T, st *site) {
	t.Helper()
	waitCtlStatus(t, st, "nginx and php-fpm RUNNING", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "nginx") == "RUNNING" && progState(sn, "php-fpm") == "RUNNING"
	})
}

func stopWithinGrace(t *testing.T, p *pid1) {
	t.Helper()
	p.signal(syscall.SIGTERM)
	// shutdown.grace is 15s in the site, plus a second.
	if code := p.wait(16 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

func TestWatchSymlinkIntoProcAtStart(t *testing.T) {
	st := newWatchedSite(t)
	swapForSymlink(t, st.path("conf/php-fpm"), "/proc")
	// php-fpm includes conf/php-fpm/*.conf: keep its pool where it is read.
	raw, err := os.ReadFile(st.path("conf/php-fpm.conf"))
	mustOK(t, err)
	writeConf(t, st.path("conf/php-fpm.conf"), strings.Replace(string(raw), "conf/php-fpm/*.conf", "conf/php-fpm.old/*.conf", 1))
	p := startPID1(t, "run", "--config", st.config())
	waitDaemonsRunning(t, st)
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	stopWithinGrace(t, p)
}

func TestWatchSymlinkIntoProcWhileRunning(t *testing.T) {
	st := newWatchedSite(t)
	p := startReloadStack(t, st)
	swapForSymlink(t, st.path("conf/nginx"), "/proc")
	// The swap is a change: nginx is checked and reloaded (nothing under
	// /proc matches *.conf), and the watcher is not stuck reading /proc.
	waitCtlStatus(t, st, "nginx reloaded after the swap", func(sn *supervisor.Snapshot) bool {
		return reloadTotal(sn, "nginx") > 0
	})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	stopWithinGrace(t, p)
}

func TestWatchBeyondLimitsIsAnError(t *testing.T) {
	needStack(t)
	st := newSite(t, site{ExtraYAML: "watch: {debounce: " + watchDebounce + ", max_files: 50}"})
	raw, err := os.ReadFile(st.config())
	mustOK(t, err)
	anchor := "    reload_signal: HUP\n"
	writeConf(t, st.config(), strings.Replace(string(raw), anchor, anchor+"    watch: ["+st.path("conf/nginx")+"]\n", 1))
	p := startReloadStack(t, st)
	before := scrapeMetrics(t, st)
	errs0, _ := metricValue(before, "phpinit_watch_errors_total")
	swapForSymlink(t, st.path("conf/nginx"), "/usr/share")
	p.waitOutput("content beyond the limits", 20*time.Second)
	if !strings.Contains(p.Out.String(), "watch.max_files") {
		t.Errorf("the error does not name the limit:\n%s", p.Out)
	}
	after := scrapeMetrics(t, st)
	if errs, _ := metricValue(after, "phpinit_watch_errors_total"); errs <= errs0 {
		t.Errorf("phpinit_watch_errors_total %v, was %v: want it counted", errs, errs0)
	}
	if n := reloadTotal(ctlStatus(t, st), "nginx"); n != 0 {
		t.Errorf("content beyond the limits made %d nginx reloads, want none", n)
	}
	stopWithinGrace(t, p)
}
