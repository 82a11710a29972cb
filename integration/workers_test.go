package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/config"
)

// workerSite is a site whose supervisord.include is its supervisord/
// directory, holding worker.conf with body.
func workerSite(t *testing.T, s site, body string) *site {
	t.Helper()
	s.ExtraYAML += "\nsupervisord: {include: [supervisord/*.conf]}"
	st := newSite(t, s)
	if err := os.MkdirAll(st.path("supervisord"), 0o755); err != nil {
		t.Fatal(err)
	}
	st.writeWorkerConf(t, body)
	return st
}

func (s *site) writeWorkerConf(t *testing.T, body string) {
	t.Helper()
	// Written aside and renamed, like an editor or a ConfigMap swap: the
	// watcher never sees half a file.
	tmp := s.path("supervisord/.worker.conf.tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.path("supervisord/worker.conf")); err != nil {
		t.Fatal(err)
	}
}

// TestWorkersGroupsInCtl: `ctl restart worker` restarts every copy,
// `ctl stop worker_01` one, `ctl status worker` shows the group, an unknown
// name lists what is known, and an autostart false program (critical
// here) stays STOPPED without failing /readyz until `ctl start`.
func TestWorkersGroupsInCtl(t *testing.T) {
	needStack(t)
	st := workerSite(t, site{NoStack: true,
		Programs: "  cron: {command: [sleep, '1000'], autostart: false, critical: true, start_seconds: 0s}\n"},
		"[program:worker]\ncommand=sleep 1000\nnumprocs=3\nprocess_name=%(program_name)s_%(process_num)02d\nstartsecs=0\n")
	p := startPID1(t, "run", "--config", st.config())
	before := waitStatus(t, st, map[string]string{"worker_00": "RUNNING", "worker_01": "RUNNING", "worker_02": "RUNNING", "cron": "STOPPED"})
	if code, body, err := get(st.healthURL("/readyz")); err != nil || code != 200 {
		t.Errorf("/readyz with cron (autostart false) not started: %d %v %s", code, err, body)
	}

	if out, errOut, code := runCtl(t, st, "restart", "worker"); code != 0 {
		t.Fatalf("ctl restart worker: exit %d: %s%s", code, out, errOut)
	}
	restarted := waitStatus(t, st, map[string]string{"worker_00": "RUNNING", "worker_01": "RUNNING", "worker_02": "RUNNING"})
	for _, n := range []string{"worker_00", "worker_01", "worker_02"} {
		if restarted[n] == before[n] {
			t.Errorf("%s kept pid %s across ctl restart worker", n, before[n])
		}
	}

	if out, errOut, code := runCtl(t, st, "stop", "worker_01"); code != 0 {
		t.Fatalf("ctl stop worker_01: exit %d: %s%s", code, out, errOut)
	}
	after := waitStatus(t, st, map[string]string{"worker_00": "RUNNING", "worker_01": "STOPPED", "worker_02": "RUNNING"})
	for _, n := range []string{"worker_00", "worker_02"} {
		if after[n] != restarted[n] {
			t.Errorf("%s restarted by ctl stop worker_01: pid %s, then %s", n, restarted[n], after[n])
		}
	}

	out, _, code := runCtl(t, st, "status", "worker")
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	if code != 0 || !slices.Equal(names, []string{"worker_00", "worker_01", "worker_02"}) {
		t.Errorf("ctl status worker: exit %d, programs %v:\n%s", code, names, out)
	}

	_, errOut, code := runCtl(t, st, "start", "wroker")
	if code != 1 || !strings.Contains(errOut, `unknown program "wroker"`) || !strings.Contains(errOut, "groups: worker") || !strings.Contains(errOut, "cron") {
		t.Errorf("ctl start wroker: exit %d, stderr %q; want the known programs and groups", code, errOut)
	}

	if out, errOut, code := runCtl(t, st, "start", "cron"); code != 0 {
		t.Fatalf("ctl start cron: exit %d: %s%s", code, out, errOut)
	}
	waitStatus(t, st, map[string]string{"cron": "RUNNING"})
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// TestNonCriticalCrashLeavesSiteUp: a program from a supervisord file that
// keeps crashing goes FATAL; the page and /readyz stay 200.
func TestNonCriticalCrashLeavesSiteUp(t *testing.T) {
	needStack(t)
	st := workerSite(t, site{}, "[program:mailer]\ncommand=sh -c 'echo no smtp >&2; exit 3'\nstartretries=1\n")
	p := startPID1(t, "run", "--config", st.config())
	waitStatus(t, st, map[string]string{"mailer": "FATAL", "nginx": "RUNNING", "php-fpm": "RUNNING"})
	waitHTTP(t, st.url("/index.php"), 200, 30*time.Second)
	waitHTTP(t, st.healthURL("/readyz"), 200, 30*time.Second)
	select {
	case <-p.done:
		t.Fatalf("phpinit exited (%d) after a non-critical program went FATAL", p.code)
	default:
	}
	p.signal(syscall.SIGTERM)
	p.wait(30 * time.Second)
}

// TestRunOnly: `run --only queue` defines queue and what it depends on,
// nothing else; an unknown name is a config error.
func TestRunOnly(t *testing.T) {
	needStack(t)
	st := workerSite(t, site{Programs: "  queue: {command: [sleep, '1000'], depends_on: [redis], start_seconds: 0s}\n" +
		"  redis: {command: [sleep, '1001'], start_seconds: 0s}\n"},
		"[program:worker]\ncommand=sleep 1002\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)02d\nstartsecs=0\n")
	p := startPID1(t, "run", "--only", "queue", "--config", st.config())
	waitStatus(t, st, map[string]string{"queue": "RUNNING", "redis": "RUNNING"})
	sn := ctlStatus(t, st)
	var names []string
	for _, pr := range sn.Programs {
		names = append(names, pr.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"queue", "redis"}) {
		t.Errorf("run --only queue defines %v, want [queue redis]", names)
	}
	for _, d := range descendants(p.PID) {
		if d.Comm == "nginx" || strings.HasPrefix(d.Comm, "php-fpm") {
			t.Errorf("run --only queue runs %s (pid %d)", d.Comm, d.PID)
		}
	}
	p.signal(syscall.SIGTERM)
	p.wait(30 * time.Second)

	out, code := runPhpinit(t, "run", "--only", "worker,nosuch", "--config", st.config())
	if code != 78 || !strings.Contains(out, `PHPINIT_ONLY: no program or group "nosuch"`) {
		t.Errorf("run --only worker,nosuch: exit %d, want 78 naming nosuch:\n%s", code, out)
	}
}

// TestExecEnvironment: `phpinit exec` sees what script.sh exported, with
// --program also the program's environment, directory and user, and
// passes exit statuses through.
func TestExecEnvironment(t *testing.T) {
	needStack(t)
	st := newSite(t, site{NoStack: true, Script: "export FROM_SCRIPT=exported-secret\n",
		Programs: "  app:\n    command: [sleep, '1000']\n    user: www-data\n    directory: /tmp\n    environment: {APP_ONLY: app-value}\n"})
	p := startPID1(t, "run", "--config", st.config())
	waitStatus(t, st, map[string]string{"app": "RUNNING"})
	sock := st.ctlSocket()
	exec := func(args ...string) (string, int) {
		return runPhpinit(t, append([]string{"exec", "--socket", sock}, args...)...)
	}
	if out, code := exec("--", "sh", "-c", `echo "$FROM_SCRIPT [$APP_ONLY] $(id -un)"`); code != 0 || out != "exported-secret [] root\n" {
		t.Errorf("exec: exit %d, output %q", code, out)
	}
	if out, code := exec("--program", "app", "--", "sh", "-c", `echo "$FROM_SCRIPT [$APP_ONLY] $(id -un) $USER $(pwd)"`); code != 0 || out != "exported-secret [app-value] www-data www-data /tmp\n" {
		t.Errorf("exec --program app: exit %d, output %q", code, out)
	}
	if out, code := exec("--program", "app", "--user", "nobody", "id", "-un"); code != 0 || out != "nobody\n" {
		t.Errorf("exec --program app --user nobody: exit %d, output %q", code, out)
	}
	if out, code := exec("sh", "-c", "kill -TERM $$"); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exec of a command killed by TERM: exit %d, want 143: %s", code, out)
	}
	if out, code := exec("--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec sh -c 'exit 7': exit %d: %s", code, out)
	}
	if out, code := exec("no-such-command-here"); code != 127 {
		t.Errorf("exec of a missing command: exit %d, want 127: %s", code, out)
	}
	if out, code := exec("--program", "nosuch", "true"); code != 1 || !strings.Contains(out, `unknown program "nosuch"`) {
		t.Errorf("exec --program nosuch: exit %d: %s", code, out)
	}
	if strings.Contains(p.Out.String(), "exported-secret") {
		t.Error("phpinit logged the environment it gave exec")
	}
	p.signal(syscall.SIGTERM)
	p.wait(30 * time.Second)
}

// TestSupervisordDirectoryWatched: an edit of a file in the supervisord
// include directory alone (phpinit.yaml untouched) reloads the config:
// numprocs 2 -> 3 starts only worker_02; a broken edit changes nothing.
func TestSupervisordDirectoryWatched(t *testing.T) {
	needStack(t)
	conf := func(n int) string {
		return fmt.Sprintf("[program:worker]\ncommand=sleep 1000\nnumprocs=%d\nprocess_name=%%(program_name)s_%%(process_num)02d\nstartsecs=0\n", n)
	}
	st := workerSite(t, site{NoStack: true}, conf(2))
	p := startPID1(t, "run", "--config", st.config())
	before := waitStatus(t, st, map[string]string{"worker_00": "RUNNING", "worker_01": "RUNNING"})

	st.writeWorkerConf(t, "[program:worker]\ncommand=sleep 1000\nnumprocs=many\n")
	p.waitOutput("config reload failed: keeping the running config", 30*time.Second)

	st.writeWorkerConf(t, conf(3))
	p.waitOutput(`msg="config reloaded" added=[worker_02] removed=[] changed=[]`, 30*time.Second)
	after := waitStatus(t, st, map[string]string{"worker_00": "RUNNING", "worker_01": "RUNNING", "worker_02": "RUNNING"})
	for _, n := range []string{"worker_00", "worker_01"} {
		if before[n] != after[n] {
			t.Errorf("%s restarted by the reload: pid %s, then %s", n, before[n], after[n])
		}
	}
	p.signal(syscall.SIGTERM)
	p.wait(30 * time.Second)
}

// TestKubernetesWorker: worker.yaml is listed, runs the web Deployment's
// image with PHPINIT_ONLY naming a program its ConfigMap's supervisord
// file defines (checked by loading the shipped config with it), has no
// Service, probes /healthz on phpinit's port, and gives phpinit time to
// stop the workers.
func TestKubernetesWorker(t *testing.T) {
	dir := filepath.Join("deploy", "kubernetes")
	kust := readYAML(t, filepath.Join(dir, "kustomization.yaml"))
	if !slices.Contains(asList(kust[0]["resources"]), any("worker.yaml")) {
		t.Fatal("kustomization.yaml does not list worker.yaml")
	}
	objs := map[string]map[string]any{}
	for _, doc := range readYAML(t, filepath.Join(dir, "worker.yaml")) {
		objs[fmt.Sprint(doc["kind"])] = doc
	}
	if objs["Service"] != nil {
		t.Error("worker.yaml: a worker takes no traffic; want no Service")
	}
	dep, cm := objs["Deployment"], objs["ConfigMap"]
	if dep == nil || cm == nil {
		t.Fatalf("worker.yaml: want a Deployment and a ConfigMap, have %v", objs)
	}
	web := k8sObjects(t)["Deployment"]
	ctr := dig(dep, "spec", "template", "spec", "containers", 0)
	if img, want := dig(ctr, "image"), dig(web, "spec", "template", "spec", "containers", 0, "image"); img != want {
		t.Errorf("worker.yaml: image %v, the web Deployment's is %v", img, want)
	}
	env := map[string]string{}
	for _, e := range asList(dig(ctr, "env")) {
		env[fmt.Sprint(dig(e, "name"))] = fmt.Sprint(dig(e, "value"))
	}
	if env["PHPINIT_ONLY"] == "" {
		t.Fatal("worker.yaml: no PHPINIT_ONLY")
	}
	cfg := shippedConfig(t)
	port := listenPort(t, cfg)
	named := map[string]int{}
	for _, p := range asList(dig(ctr, "ports")) {
		n, _ := dig(p, "containerPort").(int)
		named[fmt.Sprint(dig(p, "name"))] = n
	}
	get := dig(ctr, "livenessProbe", "httpGet")
	if dig(get, "path") != "/healthz" || resolvePort(dig(get, "port"), named) != port {
		t.Errorf("worker.yaml: livenessProbe %v, want /healthz on phpinit's port %d", get, port)
	}
	if dig(ctr, "readinessProbe") != nil {
		t.Error("worker.yaml: no traffic, so no readinessProbe (/readyz would wait for nothing)")
	}
	// The mount is where the shipped config looks for supervisord files.
	var mountedAt string
	for _, vm := range asList(dig(ctr, "volumeMounts")) {
		if dig(vm, "name") == "supervisord" {
			mountedAt = fmt.Sprint(dig(vm, "mountPath"))
		}
	}
	if len(cfg.Supervisord.Include) == 0 || filepath.Dir(cfg.Supervisord.Include[0]) != mountedAt {
		t.Errorf("worker.yaml: supervisord files mounted at %q, phpinit reads %v", mountedAt, cfg.Supervisord.Include)
	}
	tmp := t.TempDir()
	data, _ := dig(cm, "data").(map[string]any)
	for name, body := range data {
		os.WriteFile(filepath.Join(tmp, name), []byte(fmt.Sprint(body)), 0o644)
	}
	environ := []string{"PHPINIT_SUPERVISORD_INCLUDE=" + filepath.Join(tmp, "*.conf")}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	wcfg, err := config.Load(config.Options{Path: filepath.Join(repoRoot, "configs", "phpinit.yaml"), Offline: true, Environ: environ, RequirePrograms: true})
	if err != nil {
		t.Fatalf("the shipped config with worker.yaml's files and env: %v", err)
	}
	var stop time.Duration
	for name, p := range wcfg.Programs {
		if p.CopyOf != env["PHPINIT_ONLY"] && p.ProcessGroup != env["PHPINIT_ONLY"] {
			t.Errorf("worker.yaml: PHPINIT_ONLY=%s also defines %s", env["PHPINIT_ONLY"], name)
		}
		stop = max(stop, p.StopTimeout)
	}
	if len(wcfg.Programs) == 0 || stop >= wcfg.Shutdown.Grace {
		t.Errorf("worker.yaml: %d programs, longest stop timeout %v, shutdown.grace %v: want programs, stopping within grace", len(wcfg.Programs), stop, wcfg.Shutdown.Grace)
	}
	tg, _ := dig(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if time.Duration(tg)*time.Second <= wcfg.Shutdown.Grace+wcfg.Shutdown.Drain {
		t.Errorf("worker.yaml: terminationGracePeriodSeconds %d must exceed shutdown.grace+drain %v", tg, wcfg.Shutdown.Grace+wcfg.Shutdown.Drain)
	}
}
