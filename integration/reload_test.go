package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// Reload tests: watched config dirs, phpinit's own file, `phpinit ctl` and
// SIGHUP, against the real nginx and php-fpm under phpinit as PID 1.

// watchDebounce is short so that tests wait little, and long enough that a
// burst of writes by one process lands in one window.
const watchDebounce = "200ms"

// newWatchedSite lays out a site whose nginx watches conf/nginx and whose
// php-fpm watches conf/php-fpm.
func newWatchedSite(t *testing.T) *site {
	t.Helper()
	needStack(t)
	st := newSite(t, site{ExtraYAML: "watch: {debounce: " + watchDebounce + "}"})
	raw, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	for signal, dir := range map[string]string{"USR2": "conf/php-fpm", "HUP": "conf/nginx"} {
		anchor := "    reload_signal: " + signal + "\n"
		if strings.Count(cfg, anchor) != 1 {
			t.Fatalf("the site template changed: want one %q in:\n%s", anchor, cfg)
		}
		cfg = strings.Replace(cfg, anchor, anchor+"    watch: ["+st.path(dir)+"]\n", 1)
	}
	writeConf(t, st.config(), cfg)
	return st
}

// startReloadStack runs phpinit on st and waits until both daemons are RUNNING and
// the PHP page answers.
func startReloadStack(t *testing.T, st *site) *pid1 {
	t.Helper()
	p := startPID1(t, "run", "--config", st.config())
	waitCtlStatus(t, st, "nginx and php-fpm RUNNING", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "nginx") == "RUNNING" && progState(sn, "php-fpm") == "RUNNING"
	})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	return p
}

func writeConf(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceConf writes path by rename, as editors and config tools do, so
// no reader ever sees it half written.
func replaceConf(t *testing.T, path, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	writeConf(t, tmp, body)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func nginxLocation(path, answer string) string {
	return fmt.Sprintf("location = %s { return 200 %q; }\n", path, answer+"\n")
}

// runCtl runs `phpinit ctl --socket SOCKET ARGS`.
func runCtl(t *testing.T, st *site, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(phpinitBin, append([]string{"ctl", "--socket", st.ctlSocket()}, args...)...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return o.String(), e.String(), exitCode(err)
}

func (s *site) ctlSocket() string { return s.path("run/phpinit.sock") }

func ctlStatus(t *testing.T, st *site) *supervisor.Snapshot {
	t.Helper()
	out, errOut, code := runCtl(t, st, "status", "--json")
	if code != 0 {
		t.Fatalf("ctl status --json: exit %d: %s", code, errOut)
	}
	var sn supervisor.Snapshot
	if err := json.Unmarshal([]byte(out), &sn); err != nil {
		t.Fatalf("ctl status --json: %v:\n%s", err, out)
	}
	return &sn
}

func waitCtlStatus(t *testing.T, st *site, what string, cond func(*supervisor.Snapshot) bool) *supervisor.Snapshot {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var sn *supervisor.Snapshot
	for time.Now().Before(deadline) {
		out, _, code := runCtl(t, st, "status", "--json")
		sn = &supervisor.Snapshot{}
		if code == 0 && json.Unmarshal([]byte(out), sn) == nil && cond(sn) {
			return sn
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(sn, "", "  ")
	t.Fatalf("timed out waiting for %s; last status:\n%s", what, b)
	return nil
}

func progState(sn *supervisor.Snapshot, name string) string {
	p, ok := sn.Program(name)
	if !ok {
		return "absent"
	}
	return p.State
}

func lastReloadResult(sn *supervisor.Snapshot, name string) string {
	if p, ok := sn.Program(name); ok && p.LastReload != nil {
		return p.LastReload.Result
	}
	return "-"
}

func reloadTotal(sn *supervisor.Snapshot, name string) uint64 {
	p, _ := sn.Program(name)
	var n uint64
	for _, c := range p.Reloads {
		n += c
	}
	return n
}

// statusLine returns the fields of NAME's line in `ctl status`.
func statusLine(t *testing.T, st *site, name string) []string {
	t.Helper()
	out, errOut, code := runCtl(t, st, "status")
	if code != 0 {
		t.Fatalf("ctl status: exit %d: %s", code, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == name {
			return f
		}
	}
	t.Fatalf("no %s line in ctl status:\n%s", name, out)
	return nil
}

// waitAnswer polls url until it answers 200 with body want.
func waitAnswer(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := get(url)
		if err == nil && code == 200 && body == want {
			return
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered %q; last: %s", url, want, last)
}

// reloadLoad is a few clients GETting a URL in a loop, half of them on fresh
// connections and half on kept-alive ones, recording every failure. A GET on
// a kept-alive connection that nginx closes as idle is retried by Go's
// transport, as browsers do; the fresh-connection clients would see a listen
// socket that stopped accepting.
type reloadLoad struct {
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	n        atomic.Int64
	mu       sync.Mutex
	errs     []string
}

const (
	loadClients  = 4
	loadMaxTime  = 60 * time.Second
	loadMaxTries = 20000 // per client
)

func startReloadLoad(url string) *reloadLoad {
	h := &reloadLoad{stop: make(chan struct{})}
	deadline := time.Now().Add(loadMaxTime)
	for i := 0; i < loadClients; i++ {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer c.CloseIdleConnections()
			for j := 0; j < loadMaxTries && time.Now().Before(deadline); j++ {
				select {
				case <-h.stop:
					return
				default:
				}
				h.fail(h.try(c, url))
			}
		}()
	}
	return h
}

func (h *reloadLoad) try(c *http.Client, url string) string {
	defer h.n.Add(1)
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return "reading the body: " + err.Error()
	case resp.StatusCode != 200:
		return fmt.Sprintf("%s: %q", resp.Status, body)
	}
	return ""
}

func (h *reloadLoad) fail(msg string) {
	if msg == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) < 20 {
		h.errs = append(h.errs, msg)
	}
}

// waitMore waits until n more requests have been made.
func (h *reloadLoad) waitMore(t *testing.T, n int64) {
	t.Helper()
	want := h.n.Load() + n
	waitFor(t, fmt.Sprintf("%d more requests", n), 30*time.Second, func() bool { return h.n.Load() >= want })
}

// finish stops the clients and returns the failures they saw.
func (h *reloadLoad) finish() (int64, []string) {
	h.stopOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
	return h.n.Load(), h.errs
}

func TestReloadNginxLocationUnderLoad(t *testing.T) {
	st := newWatchedSite(t)
	p := startReloadStack(t, st)
	master := masterPID(t, p, "nginx")
	h := startReloadLoad(st.url("/index.php"))
	defer h.finish()
	h.waitMore(t, 50)
	writeConf(t, st.path("conf/nginx/added.conf"), nginxLocation("/added", "added"))
	waitAnswer(t, st.url("/added"), "added\n")
	// Keep going while the old workers drain.
	h.waitMore(t, 100)
	n, errs := h.finish()
	t.Logf("%d requests during the reload", n)
	if len(errs) > 0 {
		t.Errorf("%d requests during the reload; failures:\n%s", n, strings.Join(errs, "\n"))
	}
	if got := masterPID(t, p, "nginx"); got != master {
		t.Errorf("nginx master changed from %d to %d: restarted, not reloaded", master, got)
	}
	if out := p.Out.String(); !strings.Contains(out, "msg=reloaded program=nginx") {
		t.Error("no reload of nginx logged")
	}
}

func TestReloadNginxBrokenKeepsServing(t *testing.T) {
	st := newWatchedSite(t)
	p := startReloadStack(t, st)
	master := masterPID(t, p, "nginx")
	broken := st.path("conf/nginx/broken.conf")
	writeConf(t, broken, "location = /broken { bogus_directive on; }\n")
	waitCtlStatus(t, st, "a failed nginx check", func(sn *supervisor.Snapshot) bool {
		return lastReloadResult(sn, "nginx") == supervisor.ReloadCheckFailed
	})
	if code, body, err := get(st.url("/index.php")); err != nil || code != 200 {
		t.Errorf("site after a broken config: %d %q %v", code, body, err)
	}
	if code, _, err := get(st.url("/broken")); err != nil || code != 404 {
		t.Errorf("/broken after a broken config: %d %v, want the old config's 404", code, err)
	}
	if f := statusLine(t, st, "nginx"); f[1] != "RUNNING" || !strings.Contains(strings.Join(f, " "), "reload check_failed") {
		t.Errorf("ctl status line %q: want RUNNING and reload check_failed", f)
	}
	out := p.Out.String()
	if !strings.Contains(out, `unknown directive \"bogus_directive\"`) || !strings.Contains(out, "reload failed") {
		t.Errorf("the checker's output is not in the log:\n%s", out)
	}
	writeConf(t, broken, nginxLocation("/broken", "fixed"))
	waitAnswer(t, st.url("/broken"), "fixed\n")
	if sn := ctlStatus(t, st); lastReloadResult(sn, "nginx") != supervisor.ReloadOK {
		t.Errorf("last nginx reload %s after the fix, want ok", lastReloadResult(sn, "nginx"))
	}
	if got := masterPID(t, p, "nginx"); got != master {
		t.Errorf("nginx master changed from %d to %d", master, got)
	}
}

// php-fpm re-executes itself on USR2 and dies of a broken config, so a
// failed check must keep the signal from it.
func TestReloadPHPFPMBrokenPoolNotSignalled(t *testing.T) {
	st := newWatchedSite(t)
	p := startReloadStack(t, st)
	const reloading = "Reloading in progress"
	master := masterPID(t, p, "php-fpm")
	broken := st.path("conf/php-fpm/broken.conf")
	writeConf(t, broken, "[broken]\nlisten = "+st.path("run/broken.sock")+"\npm = bogus\n")
	waitCtlStatus(t, st, "a failed php-fpm check", func(sn *supervisor.Snapshot) bool {
		return lastReloadResult(sn, "php-fpm") == supervisor.ReloadCheckFailed
	})
	out := p.Out.String()
	if strings.Contains(out, reloading) {
		t.Error("php-fpm got USR2 although its check failed")
	}
	if !strings.Contains(out, "invalid process manager") {
		t.Errorf("the checker's output is not in the log:\n%s", out)
	}
	if code, body, err := get(st.url("/index.php")); err != nil || code != 200 {
		t.Errorf("PHP page after a broken pool: %d %q %v", code, body, err)
	}
	if got := masterPID(t, p, "php-fpm"); got != master {
		t.Errorf("php-fpm master changed from %d to %d", master, got)
	}
	// The same watch, once the config is good, does signal: the absence
	// above is not for want of a log line.
	mustOK(t, os.Remove(broken))
	p.waitOutput(reloading, 20*time.Second)
	waitCtlStatus(t, st, "an ok php-fpm reload", func(sn *supervisor.Snapshot) bool {
		return lastReloadResult(sn, "php-fpm") == supervisor.ReloadOK
	})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	if got := masterPID(t, p, "php-fpm"); got != master {
		t.Errorf("php-fpm master changed from %d to %d on USR2 (it re-executes in place)", master, got)
	}
}

// TestReloadKubernetesAtomicWriter updates a ConfigMap-style volume the way
// the kubelet does (kubernetes pkg/volume/util/atomic_writer.go): no event
// names site.conf.
func TestReloadKubernetesAtomicWriter(t *testing.T) {
	st := newWatchedSite(t)
	dir := st.path("conf/nginx")
	version := func(ts, answer string) {
		mustOK(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
		writeConf(t, filepath.Join(dir, ts, "site.conf"), nginxLocation("/k8s", answer))
	}
	const v1, v2 = "..2026_11_27_10_00_00.1", "..2026_11_27_10_01_00.2"
	version(v1, "k8s-v1")
	mustOK(t, os.Symlink(v1, filepath.Join(dir, "..data")))
	mustOK(t, os.Symlink("..data/site.conf", filepath.Join(dir, "site.conf")))
	p := startReloadStack(t, st)
	waitAnswer(t, st.url("/k8s"), "k8s-v1\n")
	master := masterPID(t, p, "nginx")

	version(v2, "k8s-v2")
	mustOK(t, os.Symlink(v2, filepath.Join(dir, "..data_tmp")))
	mustOK(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	mustOK(t, os.RemoveAll(filepath.Join(dir, v1)))
	waitAnswer(t, st.url("/k8s"), "k8s-v2\n")
	if got := masterPID(t, p, "nginx"); got != master {
		t.Errorf("nginx master changed from %d to %d", master, got)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReloadBurstDebounced(t *testing.T) {
	st := newWatchedSite(t)
	p := startReloadStack(t, st)
	burst := st.path("conf/nginx/burst.conf")
	for i := 0; i < 100; i++ {
		writeConf(t, burst, nginxLocation("/burst", fmt.Sprint("burst-", i)))
	}
	waitAnswer(t, st.url("/burst"), "burst-99\n")
	// A later change is applied after any reload the burst still owes, so
	// once it is served the count is complete.
	writeConf(t, st.path("conf/nginx/marker.conf"), nginxLocation("/marker", "marker"))
	waitAnswer(t, st.url("/marker"), "marker\n")
	n := reloadTotal(ctlStatus(t, st), "nginx")
	if n < 2 || n > 3 {
		t.Errorf("%d nginx reloads for a burst of 100 writes and one more, want 1 or 2 for the burst and 1 for the marker", n)
	}
	if c := strings.Count(p.Out.String(), `msg="watched files changed" program=nginx`); c > 3 {
		t.Errorf("%d changes reported to nginx, want at most 3", c)
	}
}

func TestReloadOwnConfig(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	p := startReloadStack(t, st)
	base, err := os.ReadFile(st.config())
	mustOK(t, err)
	withExtra := func(arg, more string) string {
		return string(base) + "  extra:\n    command: [sleep, \"" + arg + "\"]\n    start_seconds: 0s\n" + more
	}
	before := ctlStatus(t, st)
	pids := func(sn *supervisor.Snapshot) string {
		var b strings.Builder
		for _, name := range []string{"php-fpm", "nginx"} {
			pr, _ := sn.Program(name)
			fmt.Fprintf(&b, "%s=%d/%d ", name, pr.PID, pr.Restarts)
		}
		return b.String()
	}
	extraPID := func(sn *supervisor.Snapshot) int {
		pr, _ := sn.Program("extra")
		if pr.State != "RUNNING" {
			return 0
		}
		return pr.PID
	}

	replaceConf(t, st.config(), withExtra("1000", ""))
	first := extraPID(waitCtlStatus(t, st, "extra RUNNING", func(sn *supervisor.Snapshot) bool { return extraPID(sn) != 0 }))

	replaceConf(t, st.config(), withExtra("1001", ""))
	sn := waitCtlStatus(t, st, "extra restarted", func(sn *supervisor.Snapshot) bool {
		return extraPID(sn) != 0 && extraPID(sn) != first
	})
	if pids(sn) != pids(before) {
		t.Errorf("changing extra touched the daemons: %s, was %s", pids(sn), pids(before))
	}
	if !contains(sleepCmdlines(p), "sleep 1001") || contains(sleepCmdlines(p), "sleep 1000") {
		t.Errorf("processes after the change: %q", sleepCmdlines(p))
	}

	replaceConf(t, st.config(), string(base))
	waitCtlStatus(t, st, "extra removed", func(sn *supervisor.Snapshot) bool { return progState(sn, "extra") == "absent" })
	waitFor(t, "extra's process to end", 10*time.Second, func() bool { return len(sleepCmdlines(p)) == 0 })

	const failed = "config reload failed"
	n := strings.Count(p.Out.String(), failed)
	replaceConf(t, st.config(), withExtra("1000", "    autorestrat: always\n"))
	waitFor(t, "the invalid config to be refused", 20*time.Second, func() bool {
		return strings.Count(p.Out.String(), failed) > n
	})
	if out := p.Out.String(); !strings.Contains(out, "programs.extra.autorestrat") {
		t.Errorf("the refusal does not name the bad key:\n%s", out)
	}
	sn = ctlStatus(t, st)
	if progState(sn, "extra") != "absent" || pids(sn) != pids(before) || len(sleepCmdlines(p)) > 0 {
		t.Errorf("an invalid config changed something: extra %s, %s (was %s)", progState(sn, "extra"), pids(sn), pids(before))
	}
	// The watch survives a refused config.
	replaceConf(t, st.config(), withExtra("1000", ""))
	waitCtlStatus(t, st, "extra RUNNING again", func(sn *supervisor.Snapshot) bool { return extraPID(sn) != 0 })
}

// sleepCmdlines lists the command lines of the sleep processes under phpinit.
func sleepCmdlines(p *pid1) []string {
	var out []string
	for _, d := range descendants(p.PID) {
		if d.Comm == "sleep" && d.State != "Z" {
			raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", d.PID))
			out = append(out, strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " ")))
		}
	}
	return out
}

func TestReloadCtlCommands(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	p := startReloadStack(t, st)
	if f := statusLine(t, st, "nginx"); f[1] != "RUNNING" || f[2] != "pid" {
		t.Errorf("ctl status line %q", f)
	}

	old := masterPID(t, p, "nginx")
	if out, errOut, code := runCtl(t, st, "stop", "nginx"); code != 0 || out != "nginx: stopped\n" {
		t.Fatalf("ctl stop nginx: exit %d, %q %q", code, out, errOut)
	}
	// stop is synchronous: no polling from here.
	if f := statusLine(t, st, "nginx"); f[1] != "STOPPED" || f[3] != "-" {
		t.Errorf("after ctl stop: %q, want STOPPED and pid -", f)
	}
	if pr, alive := readProc(old); alive {
		t.Errorf("nginx master %d still there after ctl stop: %+v", old, pr)
	}
	if _, _, err := get(st.url("/index.php")); err == nil {
		t.Error("the site answers with nginx stopped")
	}
	if f := statusLine(t, st, "php-fpm"); f[1] != "RUNNING" {
		t.Errorf("stopping nginx touched php-fpm: %q", f)
	}

	if out, errOut, code := runCtl(t, st, "start", "nginx"); code != 0 || out != "nginx: started\n" {
		t.Fatalf("ctl start nginx: exit %d, %q %q", code, out, errOut)
	}
	if code, _, err := get(st.url("/index.php")); err != nil || code != 200 {
		t.Errorf("right after ctl start: %d %v", code, err)
	}
	started := masterPID(t, p, "nginx")
	if _, errOut, code := runCtl(t, st, "restart", "nginx"); code != 0 {
		t.Fatalf("ctl restart nginx: exit %d, %s", code, errOut)
	}
	if got := masterPID(t, p, "nginx"); got == started {
		t.Error("ctl restart kept the nginx master")
	}
	if code, _, err := get(st.url("/index.php")); err != nil || code != 200 {
		t.Errorf("right after ctl restart: %d %v", code, err)
	}

	if out, errOut, code := runCtl(t, st, "reload"); code != 0 {
		t.Errorf("ctl reload: exit %d, %q %q", code, out, errOut)
	}
	sn := ctlStatus(t, st)
	if lastReloadResult(sn, "nginx") != supervisor.ReloadOK || lastReloadResult(sn, "php-fpm") != supervisor.ReloadOK {
		t.Errorf("after ctl reload: nginx %s, php-fpm %s", lastReloadResult(sn, "nginx"), lastReloadResult(sn, "php-fpm"))
	}

	broken := st.path("conf/nginx/broken.conf")
	writeConf(t, broken, "location = /broken { bogus_directive on; }\n")
	out, errOut, code := runCtl(t, st, "reload", "nginx")
	if code != 1 || !strings.Contains(errOut, `unknown directive "bogus_directive"`) {
		t.Errorf("ctl reload nginx with a broken config: exit %d, %q %q", code, out, errOut)
	}
	mustOK(t, os.Remove(broken))
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)

	if out, errOut, code := runCtl(t, st, "signal", "USR1", "nginx"); code != 0 || out != "nginx: signalled USR1\n" {
		t.Errorf("ctl signal USR1 nginx: exit %d, %q %q", code, out, errOut)
	}
	p.waitOutput("reopening logs", 10*time.Second)

	for _, args := range [][]string{{"stop", "nosuch"}, {"reload", "nosuch"}, {"signal", "HUP", "nosuch"}} {
		if _, errOut, code := runCtl(t, st, args...); code != 1 || !strings.Contains(errOut, `unknown program "nosuch"`) {
			t.Errorf("ctl %s: exit %d, %q", args, code, errOut)
		}
	}
}

func TestReloadCtlBadInput(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	p := startReloadStack(t, st)
	nginx := masterPID(t, p, "nginx")
	fi, err := os.Stat(st.ctlSocket())
	mustOK(t, err)
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket with 0600", fi.Mode())
	}

	if _, errOut, code := runCtl(t, st, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("ctl frobnicate: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCtl(t, st, "signal", "NOSUCHSIG", "nginx"); code != 2 {
		t.Errorf("ctl signal NOSUCHSIG: exit %d, %q", code, errOut)
	}

	if resp := rawControlRequest(t, st, []byte("\x00\xff\xfe garbage \x01\r\n\r\n"), nil); !strings.HasPrefix(resp, "HTTP/1.1 400 ") {
		t.Errorf("garbage on the socket: answered %q", resp)
	}
	// Well-formed JSON, so that only its size is wrong.
	huge := []byte(`{"signal":"` + strings.Repeat("x", 8<<20) + `"}`)
	head := fmt.Sprintf("POST /v1/programs/nginx/signal HTTP/1.1\r\nHost: phpinit\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(huge))
	if resp := rawControlRequest(t, st, []byte(head), huge); !strings.HasPrefix(resp, "HTTP/1.1 413 ") || !strings.Contains(resp, `"kind":"bad_request"`) {
		t.Errorf("8 MiB body: answered %q", resp)
	}
	chunked := "POST /v1/programs/nginx/signal HTTP/1.1\r\nHost: phpinit\r\nTransfer-Encoding: chunked\r\n\r\n"
	body := []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(huge), huge))
	if resp := rawControlRequest(t, st, []byte(chunked), body); !strings.HasPrefix(resp, "HTTP/1.1 413 ") {
		t.Errorf("8 MiB chunked body: answered %q", resp)
	}
	huge = bytes.Repeat([]byte("h"), 1<<20)
	longHeader := append([]byte("GET /v1/status HTTP/1.1\r\nHost: phpinit\r\nX-Big: "), huge...)
	if resp := rawControlRequest(t, st, longHeader, []byte("\r\n\r\n")); !strings.HasPrefix(resp, "HTTP/1.1 431 ") {
		t.Errorf("1 MiB header: answered %q", resp)
	}

	if f := statusLine(t, st, "nginx"); f[1] != "RUNNING" {
		t.Errorf("after bad input: %q", f)
	}
	if got := masterPID(t, p, "nginx"); got != nginx {
		t.Errorf("nginx master changed from %d to %d", nginx, got)
	}
	if code, _, err := get(st.url("/index.php")); err != nil || code != 200 {
		t.Errorf("site after bad input: %d %v", code, err)
	}

	p.signal(syscall.SIGTERM)
	p.wait(30 * time.Second)
	if _, errOut, code := runCtl(t, st, "status"); code != 3 || !strings.Contains(errOut, "is phpinit running?") {
		t.Errorf("ctl status with phpinit gone: exit %d, %q", code, errOut)
	}
	missing := &site{Dir: t.TempDir()}
	if _, errOut, code := runCtl(t, missing, "status"); code != 3 {
		t.Errorf("ctl status on a missing socket: exit %d, %q", code, errOut)
	}
}

// rawControlRequest writes head and then body to the control socket and
// returns the status line and body of the answer. The server may answer and
// close before reading the whole body: a failed write is expected then.
func rawControlRequest(t *testing.T, st *site, head, body []byte) string {
	t.Helper()
	c, err := net.Dial("unix", st.ctlSocket())
	mustOK(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		if _, err := c.Write(head); err == nil && body != nil {
			c.Write(body)
		}
	}()
	resp, err := io.ReadAll(io.LimitReader(c, 4096))
	if len(resp) == 0 {
		t.Errorf("no answer on the control socket: %v", err)
		return ""
	}
	s := string(resp)
	line, _, _ := strings.Cut(s, "\r\n")
	if _, payload, ok := strings.Cut(s, "\r\n\r\n"); ok {
		return line + " " + strings.TrimSpace(payload)
	}
	return line
}

func TestReloadSIGHUP(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	p := startReloadStack(t, st)
	nginx, fpm := masterPID(t, p, "nginx"), masterPID(t, p, "php-fpm")
	p.signal(syscall.SIGHUP)
	waitCtlStatus(t, st, "both reloaded", func(sn *supervisor.Snapshot) bool {
		return lastReloadResult(sn, "nginx") == supervisor.ReloadOK && lastReloadResult(sn, "php-fpm") == supervisor.ReloadOK
	})
	p.waitOutput("Reloading in progress", 10*time.Second)
	if !strings.Contains(p.Out.String(), "msg=reloaded program=nginx") {
		t.Error("nginx's reload is not logged")
	}
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	if masterPID(t, p, "nginx") != nginx || masterPID(t, p, "php-fpm") != fpm {
		t.Error("SIGHUP restarted a daemon instead of reloading it")
	}

	// A failed check on one program keeps the signal from it only.
	writeConf(t, st.path("conf/nginx/broken.conf"), "bogus_directive on;\n")
	p.signal(syscall.SIGHUP)
	sn := waitCtlStatus(t, st, "the second SIGHUP's outcome", func(sn *supervisor.Snapshot) bool {
		return lastReloadResult(sn, "nginx") == supervisor.ReloadCheckFailed && reloadTotal(sn, "php-fpm") == 2
	})
	if lastReloadResult(sn, "php-fpm") != supervisor.ReloadOK {
		t.Errorf("php-fpm's second reload: %s", lastReloadResult(sn, "php-fpm"))
	}
	if masterPID(t, p, "nginx") != nginx {
		t.Error("a refused nginx reload restarted nginx")
	}
	if code, _, err := get(st.url("/index.php")); err != nil || code != 200 {
		t.Errorf("site after a refused reload: %d %v", code, err)
	}
}
