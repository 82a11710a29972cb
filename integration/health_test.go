package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/phpinit/phpinit/healthcheck"
	"github.com/phpinit/phpinit/supervisor"
)

// The health tests run their own copy of the php-fpm and nginx programs
// (the site's NoStack plus Programs), so that php-fpm can be held back by a
// gate file, given a liveness probe or a short stop_timeout. @DIR@, @PORT@
// and @HTTPPORT@ in the YAML are the site's.
const healthPrograms = `  php-fpm:
    command: [sh, -c, '@GATE@exec php-fpm8.2 --nodaemonize --fpm-config @DIR@/conf/php-fpm.conf']
    user: www-data
    stop_timeout: @STOP@
    reload_signal: USR2
    check: [php-fpm8.2, -t, --fpm-config, @DIR@/conf/php-fpm.conf]
    ready: {fastcgi: "unix://@DIR@/run/php.sock", path: /ping}
@FPM@
  nginx:
    command: [nginx, -e, stderr, -p, @DIR@, -c, @DIR@/conf/nginx.conf, -g, "daemon off;"]
    user: www-data
    depends_on: [php-fpm]
    reload_signal: HUP
    check: [nginx, -e, stderr, -t, -q, -p, @DIR@, -c, @DIR@/conf/nginx.conf, -g, "daemon off;"]
    ready: {http: "http://127.0.0.1:@PORT@/stub_status"}
`

// healthOpts varies the stack of healthPrograms.
type healthOpts struct {
	// gate: php-fpm waits for run/gate to exist before exec, on every
	// start, so a test decides when it can become ready.
	gate bool
	// fpm is more keys for php-fpm, indented by four spaces.
	fpm string
	// stopTimeout is php-fpm's stop_timeout; "" is 12s.
	stopTimeout string
	// extra is top-level YAML.
	extra string
	// shutdown replaces the site's shutdown line.
	shutdown string
}

// startHealthStack lays out a site running healthPrograms and starts phpinit
// as PID 1 on it.
func startHealthStack(t *testing.T, o healthOpts) (*site, *pid1) {
	t.Helper()
	st := newHealthSite(t, o)
	return st, startPID1(t, "run", "--config", st.config())
}

func newHealthSite(t *testing.T, o healthOpts) *site {
	t.Helper()
	needStack(t)
	gate := ""
	if o.gate {
		gate = "while [ ! -e @DIR@/run/gate ]; do sleep 0.05; done; "
	}
	if o.stopTimeout == "" {
		o.stopTimeout = "12s"
	}
	progs := strings.NewReplacer("@GATE@", gate, "@FPM@", o.fpm, "@STOP@", o.stopTimeout).Replace(healthPrograms)
	st := newSite(t, site{NoStack: true, Programs: progs, ExtraYAML: o.extra})
	if o.shutdown != "" {
		healthEdit(t, st.config(), "shutdown: {grace: 15s}", o.shutdown)
	}
	healthFill(t, st)
	return st
}

// healthEdit replaces the first old by new in file.
func healthEdit(t *testing.T, file, old, new string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("%q not in %s", old, file)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// healthFill replaces the placeholders in the site's phpinit.yaml; newSite
// does not template ExtraYAML and Programs.
func healthFill(t *testing.T, st *site) {
	t.Helper()
	raw, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(
		"@DIR@", st.Dir,
		"@PORT@", fmt.Sprint(st.Port),
		"@HTTPPORT@", fmt.Sprint(st.HTTPPort),
	).Replace(string(raw))
	if err := os.WriteFile(st.config(), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *site) healthURL(p string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", s.HTTPPort, p)
}

func (s *site) openFPMGate(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(s.path("run/gate"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *site) closeFPMGate(t *testing.T) {
	t.Helper()
	if err := os.Remove(s.path("run/gate")); err != nil {
		t.Fatal(err)
	}
}

// getReadyz returns /readyz's status code and decoded body (code 0: no answer).
func getReadyz(st *site) (int, healthcheck.Health) {
	var h healthcheck.Health
	code, body, err := get(st.healthURL("/readyz"))
	if err != nil {
		return 0, h
	}
	json.Unmarshal([]byte(body), &h)
	return code, h
}

// waitReadyz polls /readyz until it answers want and returns the body.
func waitReadyz(t *testing.T, st *site, want int, d time.Duration) healthcheck.Health {
	t.Helper()
	var h healthcheck.Health
	var code int
	waitFor(t, fmt.Sprintf("/readyz %d", want), d, func() bool {
		code, h = getReadyz(st)
		return code == want
	})
	return h
}

// healthStatus is `phpinit ctl status --json`.
func healthStatus(t *testing.T, st *site) *supervisor.Snapshot {
	t.Helper()
	sn, err := healthTryStatus(t, st)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

func healthTryStatus(t *testing.T, st *site) (*supervisor.Snapshot, error) {
	out, code := runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "status", "--json")
	if code != 0 {
		return nil, fmt.Errorf("ctl status: exit %d: %s", code, out)
	}
	var sn supervisor.Snapshot
	if err := json.Unmarshal([]byte(out), &sn); err != nil {
		return nil, fmt.Errorf("ctl status --json: %v: %s", err, out)
	}
	return &sn, nil
}

func statusOf(t *testing.T, sn *supervisor.Snapshot, name string) supervisor.ProgramStatus {
	t.Helper()
	p, ok := sn.Program(name)
	if !ok {
		t.Fatalf("no %s in status: %+v", name, sn)
	}
	return p
}

func TestReadyzFollowsPHPFPMReadiness(t *testing.T) {
	st, p := startHealthStack(t, healthOpts{gate: true})
	// php-fpm cannot get past its gate: not ready, and nginx, which depends
	// on it, not started.
	waitFor(t, "php-fpm STARTING", 20*time.Second, func() bool {
		sn, err := healthTryStatus(t, st)
		if err != nil {
			return false
		}
		fpm, _ := sn.Program("php-fpm")
		return fpm.State == supervisor.Starting.String()
	})
	h := waitReadyz(t, st, http.StatusServiceUnavailable, time.Second)
	if h.Status != healthcheck.StatusUnavailable || !strings.Contains(h.Reason, "php-fpm") {
		t.Errorf("/readyz before php-fpm is ready: %+v", h)
	}
	if ng := statusOf(t, healthStatus(t, st), "nginx"); ng.PID != 0 || ng.State == supervisor.Running.String() || ng.State == supervisor.Starting.String() {
		t.Errorf("nginx started before php-fpm was ready: %+v", ng)
	}

	st.openFPMGate(t)
	h = waitReadyz(t, st, http.StatusOK, 20*time.Second)
	if h.Status != healthcheck.StatusOK || len(h.Programs) != 2 {
		t.Errorf("/readyz when ready: %+v", h)
	}
	sn := healthStatus(t, st)
	fpm, ng := statusOf(t, sn, "php-fpm"), statusOf(t, sn, "nginx")
	if ng.Started.Before(fpm.Since) {
		t.Errorf("nginx started at %v, before php-fpm was RUNNING at %v", ng.Started, fpm.Since)
	}
	out := p.Out.String()
	running, started := strings.Index(out, "msg=running program=php-fpm"), strings.Index(out, "msg=started program=nginx")
	if running < 0 || started < 0 || started < running {
		t.Errorf("want php-fpm running (at %d) logged before nginx started (at %d)", running, started)
	}
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)

	// kill -9 of the master: not ready until the new master answers.
	st.closeFPMGate(t)
	syscall.Kill(masterPID(t, p, "php-fpm"), syscall.SIGKILL)
	h = waitReadyz(t, st, http.StatusServiceUnavailable, 20*time.Second)
	if !strings.Contains(h.Reason, "php-fpm") {
		t.Errorf("/readyz after kill -9 of php-fpm: %+v", h)
	}
	st.openFPMGate(t)
	waitReadyz(t, st, http.StatusOK, 20*time.Second)
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	if r := statusOf(t, healthStatus(t, st), "php-fpm").Restarts; r != 1 {
		t.Errorf("php-fpm restarts %d after one kill -9, want 1", r)
	}
}

func TestHungPHPFPMIsRestartedHealthzStaysUp(t *testing.T) {
	st := newHealthSite(t, healthOpts{
		stopTimeout: "2s",
		fpm:         `    live: {fastcgi: "unix://@DIR@/run/php.sock", path: /ping, interval: 300ms, timeout: 300ms, failure_threshold: 3}`,
	})
	healthEdit(t, st.path("conf/php-fpm/www.conf"), "pm.max_children = 24", "pm.max_children = 2")
	p := startPID1(t, "run", "--config", st.config())
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	old := statusOf(t, healthStatus(t, st), "php-fpm")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// /healthz asks phpinit's loop, not the children: it must not fail
	// while php-fpm hangs and is restarted.
	polled := make(chan []string, 1)
	var polls atomic.Int64
	go func() {
		var bad []string
		for ctx.Err() == nil {
			if code, body, err := get(st.healthURL("/healthz")); code != 200 {
				bad = append(bad, fmt.Sprintf("%d %q %v", code, body, err))
			}
			polls.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
		polled <- bad
	}()
	waitFor(t, "first /healthz poll", 10*time.Second, func() bool { return polls.Load() > 0 })

	// Both workers sleep for an hour: pings queue up and time out.
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.url("/hang.php"), nil)
		go func() {
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	var fresh supervisor.ProgramStatus
	waitFor(t, "php-fpm restarted by its liveness probe", 30*time.Second, func() bool {
		fresh = statusOf(t, healthStatus(t, st), "php-fpm")
		return fresh.Restarts >= 1 && fresh.State == supervisor.Running.String()
	})
	if fresh.PID == old.PID || fresh.PID == 0 {
		t.Errorf("php-fpm pid %d after the restart, was %d", fresh.PID, old.PID)
	}
	if !strings.Contains(p.Out.String(), `msg="liveness probe failed: restarting" program=php-fpm`) {
		t.Error("the liveness restart is not logged")
	}
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	// Polled at least once more after the restart.
	n := polls.Load()
	waitFor(t, "a /healthz poll after the restart", 10*time.Second, func() bool { return polls.Load() > n })
	cancel()
	if bad := <-polled; len(bad) > 0 {
		t.Errorf("/healthz failed %d times while php-fpm hung and restarted; first: %s", len(bad), bad[0])
	}
}

// scrapeMetrics fetches and parses /metrics.
func scrapeMetrics(t *testing.T, st *site) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := get(st.healthURL("/metrics"))
	if err != nil || code != 200 {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// metricValue is the sample of name whose labels include want; ok false if none.
func metricValue(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if have[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func mustMetric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(fams, name, labels...)
	if !ok {
		t.Fatalf("no %s%v in /metrics", name, labels)
	}
	return v
}

func TestMetrics(t *testing.T) {
	st, p := startHealthStack(t, healthOpts{extra: `metrics:
  phpfpm: [{address: "unix://@DIR@/run/php.sock", path: /status}]
  nginx: "http://127.0.0.1:@PORT@/stub_status"`})
	waitReadyz(t, st, 200, 20*time.Second)

	before := scrapeMetrics(t, st)
	for _, m := range []string{"phpfpm_up", "nginx_up"} {
		if v := mustMetric(t, before, m); v != 1 {
			t.Errorf("%s = %v, want 1", m, v)
		}
	}
	if v := mustMetric(t, before, "phpinit_build_info"); v != 1 {
		t.Errorf("phpinit_build_info = %v, want 1", v)
	}
	for _, prog := range []string{"php-fpm", "nginx"} {
		if v := mustMetric(t, before, "phpinit_program_up", "program", prog); v != 1 {
			t.Errorf("phpinit_program_up{program=%q} = %v, want 1", prog, v)
		}
		var hot []string
		for _, s := range supervisor.States() {
			if mustMetric(t, before, "phpinit_program_state", "program", prog, "state", s.String()) == 1 {
				hot = append(hot, s.String())
			}
		}
		if len(hot) != 1 || hot[0] != "RUNNING" {
			t.Errorf("phpinit_program_state{program=%q} is 1 for %v, want just RUNNING", prog, hot)
		}
	}
	if v := mustMetric(t, before, "phpinit_program_memory_rss_bytes", "program", "php-fpm"); v <= 0 {
		t.Errorf("php-fpm rss %v", v)
	}

	const n = 20
	for range n {
		if code, body, err := get(st.url("/index.php")); code != 200 {
			t.Fatalf("page: %d %q %v", code, body, err)
		}
	}
	after := scrapeMetrics(t, st)
	for _, m := range []string{"phpfpm_accepted_connections", "nginx_http_requests_total"} {
		if grew := mustMetric(t, after, m) - mustMetric(t, before, m); grew < n {
			t.Errorf("%s grew by %v after %d requests", m, grew, n)
		}
	}

	restarts := func() float64 {
		return mustMetric(t, scrapeMetrics(t, st), "phpinit_program_restarts_total", "program", "php-fpm")
	}
	if r := restarts(); r != 0 {
		t.Fatalf("php-fpm restarts %v before any kill", r)
	}
	syscall.Kill(masterPID(t, p, "php-fpm"), syscall.SIGKILL)
	waitFor(t, "restart counted", 20*time.Second, func() bool { return restarts() == 1 })
	waitReadyz(t, st, 200, 20*time.Second)

	// A broken pool config: the check fails, php-fpm keeps running.
	checkFailed := func() float64 {
		return mustMetric(t, scrapeMetrics(t, st), "phpinit_reloads_total", "program", "php-fpm", "result", "check_failed")
	}
	if v := checkFailed(); v != 0 {
		t.Fatalf("check_failed reloads %v before any reload", v)
	}
	pid := masterPID(t, p, "php-fpm")
	healthEdit(t, st.path("conf/php-fpm/www.conf"), "pm = static", "pm = bogus")
	out, code := runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "reload", "php-fpm")
	if code != 1 || !strings.Contains(out, "check failed") {
		t.Errorf("ctl reload of a broken php-fpm config: exit %d: %s", code, out)
	}
	if v := checkFailed(); v != 1 {
		t.Errorf("phpinit_reloads_total{program=php-fpm,result=check_failed} = %v, want 1", v)
	}
	fams := scrapeMetrics(t, st)
	if v := mustMetric(t, fams, "phpinit_reloads_total", "program", "php-fpm", "result", "ok"); v != 0 {
		t.Errorf("ok reloads %v, want 0", v)
	}
	if v := mustMetric(t, fams, "phpinit_program_up", "program", "php-fpm"); v != 1 {
		t.Errorf("php-fpm not up after a failed reload: %v", v)
	}
	if now := masterPID(t, p, "php-fpm"); now != pid {
		t.Errorf("php-fpm master %d replaced by %d after a failed reload", pid, now)
	}
	waitHTTP(t, st.url("/index.php"), 200, 10*time.Second)
}

// healthcheckCLI runs `phpinit healthcheck ARGS` until its output starts
// with prefix, and returns its exit status.
func healthcheckCLI(t *testing.T, prefix string, args ...string) int {
	t.Helper()
	var out string
	var code int
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, code = runPhpinit(t, append([]string{"healthcheck"}, args...)...)
		if strings.HasPrefix(out, prefix) {
			return code
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("phpinit healthcheck %v never printed %q; last: exit %d: %s", args, prefix, code, out)
	return -1
}

func TestHealthcheckCommand(t *testing.T) {
	st, p := startHealthStack(t, healthOpts{gate: true})
	url := "--url=" + st.healthURL("/readyz")
	cfg := "--config=" + st.config()
	// The gate is shut: the listener answers, php-fpm is not ready.
	for _, arg := range []string{url, cfg} {
		if code := healthcheckCLI(t, "not ready: ", arg); code != 1 {
			t.Errorf("healthcheck %s when not ready: exit %d, want 1", arg, code)
		}
	}
	st.openFPMGate(t)
	waitReadyz(t, st, 200, 20*time.Second)
	for _, arg := range []string{url, cfg} {
		if code := healthcheckCLI(t, "ready\n", arg); code != 0 {
			t.Errorf("healthcheck %s when ready: exit %d, want 0", arg, code)
		}
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	if code := healthcheckCLI(t, "cannot reach ", cfg); code != 1 {
		t.Errorf("healthcheck with phpinit gone: exit %d, want 1", code)
	}
}

func TestDrainAnswers503BeforeNginxStops(t *testing.T) {
	st, p := startHealthStack(t, healthOpts{shutdown: "shutdown: {grace: 15s, drain: 1s}"})
	waitReadyz(t, st, 200, 20*time.Second)
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	p.signal(syscall.SIGTERM)
	// Each round asks /readyz, then the page: a page served after /readyz
	// said 503 was served during the drain.
	var seen bool
	deadline := time.Now().Add(20 * time.Second)
	for !seen && time.Now().Before(deadline) {
		code, h := getReadyz(st)
		if code == 0 {
			t.Fatal("listener gone before /readyz answered 503")
		}
		if code != http.StatusServiceUnavailable {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		seen = true
		if h.Reason != "draining" {
			t.Errorf("/readyz reason %q during the drain, want draining", h.Reason)
		}
		if code, body, err := get(st.url("/index.php")); code != 200 {
			t.Errorf("page during the drain: %d %q %v", code, body, err)
		}
		if code, body, err := get(st.healthURL("/healthz")); code != 200 {
			t.Errorf("/healthz during the drain: %d %q %v", code, body, err)
		}
	}
	if !seen {
		t.Fatal("/readyz never answered 503 after SIGTERM")
	}
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after a drained SIGTERM, want 0", code)
	}
	out := p.Out.String()
	drain, stop := strings.Index(out, `msg="draining before stop"`), strings.Index(out, "msg=stopping program=nginx")
	if drain < 0 || stop < drain {
		t.Errorf("want the drain (at %d) logged before nginx stops (at %d)", drain, stop)
	}
}
