package integration

// Static checks of docker/Dockerfile, docker-compose.yml and
// deploy/kubernetes against configs/phpinit.yaml: they need no root and no
// Docker, and catch the drift that only shows once an image is built and
// run (a COPY of a moved file, a watched directory that is no volume, a
// probe on a port phpinit does not listen on).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phpinit/phpinit/config"
)

// repoRoot is the Docker build context: the module root.
const repoRoot = ".."

// dockerInstr is one instruction of a Dockerfile, continuation lines joined
// and comment lines dropped (as Docker's parser does, even inside a
// continued RUN).
type dockerInstr struct {
	Line  int    // of the instruction's first line
	Cmd   string // upper case: COPY, RUN, ...
	Flags map[string]string
	Args  string // after the flags
}

// execForm returns the JSON-array form of the arguments, if they are one.
func (in dockerInstr) execForm() ([]string, bool) {
	var argv []string
	if !strings.HasPrefix(in.Args, "[") || json.Unmarshal([]byte(in.Args), &argv) != nil {
		return nil, false
	}
	return argv, true
}

// words splits shell-form arguments (COPY, VOLUME, EXPOSE) or parses the
// JSON form.
func (in dockerInstr) words() []string {
	if argv, ok := in.execForm(); ok {
		return argv
	}
	return strings.Fields(in.Args)
}

// dockerStage is one FROM and what follows it.
type dockerStage struct {
	Name   string // the AS name, or ""
	Instrs []dockerInstr
}

func (s dockerStage) all(cmd string) []dockerInstr {
	var out []dockerInstr
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// one returns the last instruction cmd (Docker keeps only the last
// ENTRYPOINT, HEALTHCHECK, ...).
func (s dockerStage) one(t *testing.T, cmd string) dockerInstr {
	t.Helper()
	all := s.all(cmd)
	if len(all) == 0 {
		t.Fatalf("Dockerfile: the final stage has no %s", cmd)
	}
	return all[len(all)-1]
}

var dockerFlag = regexp.MustCompile(`^--([a-z-]+)(?:=(\S*))?\s*`)

func parseDockerfile(t *testing.T, file string) []dockerStage {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var instrs []dockerInstr
	var cur *dockerInstr
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur == nil) {
			continue
		}
		cont := strings.HasSuffix(line, `\`)
		line = strings.TrimSuffix(line, `\`)
		if cur == nil {
			cmd, rest, _ := strings.Cut(line, " ")
			cur = &dockerInstr{Line: n, Cmd: strings.ToUpper(cmd), Args: rest}
		} else {
			cur.Args += " " + line
		}
		if !cont {
			instrs = append(instrs, *cur)
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: continuation runs past the end of the file", file, cur.Line)
	}
	var stages []dockerStage
	for _, in := range instrs {
		in.Args = strings.TrimSpace(in.Args)
		in.Flags = map[string]string{}
		for {
			m := dockerFlag.FindStringSubmatch(in.Args)
			if m == nil {
				break
			}
			in.Flags[m[1]] = m[2]
			in.Args = in.Args[len(m[0]):]
		}
		if in.Cmd == "FROM" {
			w := strings.Fields(in.Args)
			s := dockerStage{}
			if len(w) == 3 && strings.EqualFold(w[1], "AS") {
				s.Name = w[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", file, in.Line, in.Cmd)
			}
			continue
		}
		stages[len(stages)-1].Instrs = append(stages[len(stages)-1].Instrs, in)
	}
	if len(stages) == 0 {
		t.Fatalf("%s: no FROM", file)
	}
	return stages
}

func finalStage(t *testing.T) dockerStage {
	t.Helper()
	stages := parseDockerfile(t, filepath.Join(repoRoot, "docker", "Dockerfile"))
	return stages[len(stages)-1]
}

// shippedConfig is configs/phpinit.yaml as phpinit reads it, defaults
// applied, with no PHPINIT_* from the test's environment.
func shippedConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Options{Path: filepath.Join(repoRoot, "configs", "phpinit.yaml"), Offline: true})
	if err != nil {
		t.Fatalf("configs/phpinit.yaml: %v", err)
	}
	return cfg
}

// listenPort is the port of the shipped http.listen.
func listenPort(t *testing.T, cfg *config.Config) int {
	t.Helper()
	_, p, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		t.Fatalf("http.listen %q: %v", cfg.HTTP.Listen, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("http.listen %q: port: %v", cfg.HTTP.Listen, err)
	}
	return n
}

// installedBinary is where the final stage puts phpinit: the destination
// of the COPY --from the build stage.
func installedBinary(t *testing.T, s dockerStage) string {
	t.Helper()
	for _, in := range s.all("COPY") {
		w := in.words()
		if _, ok := in.Flags["from"]; ok && len(w) == 2 && path.Base(w[0]) == "phpinit" {
			return w[1]
		}
	}
	t.Fatal("Dockerfile: no COPY --from=... phpinit in the final stage")
	return ""
}

// dockerignored reports whether .dockerignore keeps p (slash-separated,
// relative to the context) out of the build context. Patterns are
// filepath.Match globs on a path or any of its parents; the last matching
// line wins, and a "!" line re-includes.
func dockerignored(t *testing.T, p string) bool {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	ignored := false
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		pat := strings.Trim(strings.TrimPrefix(line, "!"), "/")
		parts := strings.Split(p, "/")
		for i := range parts {
			if ok, _ := path.Match(pat, strings.Join(parts[:i+1], "/")); ok {
				ignored = !neg
				break
			}
		}
	}
	return ignored
}

func TestDockerfileCopySourcesExist(t *testing.T) {
	for _, s := range parseDockerfile(t, filepath.Join(repoRoot, "docker", "Dockerfile")) {
		for _, in := range s.all("COPY") {
			if _, ok := in.Flags["from"]; ok {
				continue
			}
			w := in.words()
			if len(w) < 2 {
				t.Errorf("Dockerfile:%d: COPY needs a source and a destination: %q", in.Line, in.Args)
				continue
			}
			for _, src := range w[:len(w)-1] {
				matches, _ := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(src)))
				if len(matches) == 0 {
					t.Errorf("Dockerfile:%d: COPY source %s does not exist", in.Line, src)
				}
				if src != "." && dockerignored(t, path.Clean(src)) {
					t.Errorf("Dockerfile:%d: COPY source %s is excluded by .dockerignore", in.Line, src)
				}
			}
		}
	}
}

func TestDockerfileExecForms(t *testing.T) {
	s := finalStage(t)
	bin := installedBinary(t, s)

	ep := s.one(t, "ENTRYPOINT")
	argv, ok := ep.execForm()
	if !ok {
		t.Errorf("Dockerfile:%d: ENTRYPOINT is not an exec-form JSON array (a shell would be PID 1): %s", ep.Line, ep.Args)
	} else if len(argv) == 0 || argv[0] != bin {
		t.Errorf("Dockerfile:%d: ENTRYPOINT %q does not start with the installed binary %s", ep.Line, argv, bin)
	}

	hc := s.one(t, "HEALTHCHECK")
	rest, isCmd := strings.CutPrefix(hc.Args, "CMD ")
	if !isCmd {
		t.Fatalf("Dockerfile:%d: HEALTHCHECK without CMD: %s", hc.Line, hc.Args)
	}
	hc.Args = strings.TrimSpace(rest)
	argv, ok = hc.execForm()
	if !ok {
		t.Errorf("Dockerfile:%d: HEALTHCHECK CMD is not an exec-form JSON array (it would need /bin/sh): %s", hc.Line, hc.Args)
	} else if !slices.Equal(argv, []string{bin, "healthcheck"}) {
		t.Errorf("Dockerfile:%d: HEALTHCHECK CMD %q, want [%s healthcheck]", hc.Line, argv, bin)
	}
	for _, flag := range []string{"interval", "timeout", "start-period"} {
		if _, err := time.ParseDuration(hc.Flags[flag]); err != nil {
			t.Errorf("Dockerfile:%d: HEALTHCHECK --%s=%q: %v", hc.Line, flag, hc.Flags[flag], err)
		}
	}
}

// underVolume returns the VOLUME that holds dir, or "".
func underVolume(dir string, volumes []string) string {
	for _, v := range volumes {
		if dir == v || strings.HasPrefix(dir, strings.TrimSuffix(v, "/")+"/") {
			return v
		}
	}
	return ""
}

func TestDockerfileVolumesHoldWhatUsersMount(t *testing.T) {
	s := finalStage(t)
	var volumes []string
	for _, in := range s.all("VOLUME") {
		volumes = append(volumes, in.words()...)
	}
	cfg := shippedConfig(t)
	for name, p := range cfg.Programs {
		for _, dir := range p.Watch {
			if underVolume(dir, volumes) == "" {
				t.Errorf("programs.%s.watch %s is on no VOLUME %q: edits would be lost with the container", name, dir, volumes)
			}
		}
	}
	for _, dir := range []string{"/data/www", "/data/log", "/data/script", filepath.Dir(config.DataPath)} {
		if !slices.Contains(volumes, dir) {
			t.Errorf("VOLUME %q lacks %s (the classic image's layout)", volumes, dir)
		}
	}
	for key, file := range map[string]string{"hooks.script": cfg.Hooks.Script, "hooks.dir": cfg.Hooks.Dir} {
		if underVolume(file, volumes) == "" {
			t.Errorf("%s %s is on no VOLUME %q", key, file, volumes)
		}
	}
	// Every directory phpinit seeds from /usr/share/phpinit/defaults/<name>
	// must be a volume of its own: seeding only happens in an empty mount.
	for _, in := range s.all("COPY") {
		w := in.words()
		rest, ok := strings.CutPrefix(w[len(w)-1], "/usr/share/phpinit/defaults/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		if dir := "/data/conf/" + name; !slices.Contains(volumes, dir) {
			t.Errorf("Dockerfile:%d: defaults for %s, but %s is no VOLUME", in.Line, name, dir)
		}
	}
}

func TestDockerfileExposesSiteAndHTTPListener(t *testing.T) {
	s := finalStage(t)
	exposed := map[int]bool{}
	for _, in := range s.all("EXPOSE") {
		for _, w := range in.words() {
			port, proto, _ := strings.Cut(w, "/")
			n, err := strconv.Atoi(port)
			if err != nil || (proto != "" && proto != "tcp") {
				t.Errorf("Dockerfile:%d: EXPOSE %s: want a TCP port", in.Line, w)
			}
			exposed[n] = true
		}
	}
	for _, want := range []int{80, 443, listenPort(t, shippedConfig(t))} {
		if !exposed[want] {
			t.Errorf("EXPOSE lacks %d", want)
		}
	}
}

func TestShippedConfigChecksOffline(t *testing.T) {
	out, code := runPhpinit(t, "check", "--offline", "--config", filepath.Join(repoRoot, "configs", "phpinit.yaml"))
	if code != 0 {
		t.Fatalf("phpinit check --offline configs/phpinit.yaml: exit %d:\n%s", code, out)
	}
}

// The stop budget nests: nginx's worker_shutdown_timeout and php-fpm's
// process_control_timeout end their graceful stops before phpinit's
// stop_timeout SIGKILLs them, which comes before shutdown.grace runs out
// (the comments in all three files say to raise them together).
func TestShippedStopTimeoutsNest(t *testing.T) {
	cfg := shippedConfig(t)
	directive := func(file, re string) time.Duration {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(repoRoot, "configs", file))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\s*` + re + `\s*=?\s*(\d+[smh])\s*;?\s*$`).FindSubmatch(raw)
		if m == nil {
			t.Fatalf("configs/%s: no %s", file, re)
		}
		d, err := time.ParseDuration(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	nginxT := directive("nginx/nginx.conf", "worker_shutdown_timeout")
	fpmT := directive("php-fpm/php-fpm.conf", "process_control_timeout")
	for name, inner := range map[string]time.Duration{"nginx": nginxT, "php-fpm": fpmT} {
		p := cfg.Programs[name]
		if p == nil {
			t.Fatalf("configs/phpinit.yaml: no program %s", name)
		}
		if inner > p.StopTimeout {
			t.Errorf("%s stops gracefully within %v, above its stop_timeout %v: it would be SIGKILLed", name, inner, p.StopTimeout)
		}
		if p.StopTimeout > cfg.Shutdown.Grace {
			t.Errorf("%s stop_timeout %v above shutdown.grace %v", name, p.StopTimeout, cfg.Shutdown.Grace)
		}
	}
	if fpmT == 0 {
		t.Error("process_control_timeout 0: php-fpm's QUIT cuts every request")
	}
}

func readYAML(t *testing.T, file string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []map[string]any
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return docs
			}
			t.Fatalf("%s: %v", file, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// dig walks maps and lists: dig(v, "spec", "ports", 0, "name").
func dig(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func asList(v any) []any { l, _ := v.([]any); return l }

func TestComposeAgreesWithConfig(t *testing.T) {
	docs := readYAML(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d documents, want 1", len(docs))
	}
	cfg := shippedConfig(t)
	port := listenPort(t, cfg)
	bin := installedBinary(t, finalStage(t))
	web := dig(docs[0], "services", "web")
	if web == nil {
		t.Fatal("docker-compose.yml: no services.web")
	}
	targets := map[int]bool{}
	for _, p := range asList(dig(web, "ports")) {
		parts := strings.Split(fmt.Sprint(p), ":")
		n, err := strconv.Atoi(strings.TrimSuffix(parts[len(parts)-1], "/tcp"))
		if err != nil {
			t.Errorf("docker-compose.yml: port %v: %v", p, err)
		}
		targets[n] = true
	}
	for _, want := range []int{80, port} {
		if !targets[want] {
			t.Errorf("docker-compose.yml: services.web.ports publishes no container port %d", want)
		}
	}
	var test []string
	for _, w := range asList(dig(web, "healthcheck", "test")) {
		test = append(test, fmt.Sprint(w))
	}
	if !slices.Equal(test, []string{"CMD", bin, "healthcheck"}) {
		t.Errorf("docker-compose.yml: healthcheck.test %q, want [CMD %s healthcheck]", test, bin)
	}
	stop, err := time.ParseDuration(fmt.Sprint(dig(web, "stop_grace_period")))
	if err != nil {
		t.Fatalf("docker-compose.yml: stop_grace_period: %v", err)
	}
	if budget := cfg.Shutdown.Grace + cfg.Shutdown.Drain; stop <= budget {
		t.Errorf("docker-compose.yml: stop_grace_period %v must exceed shutdown.grace+drain %v, or Docker SIGKILLs a graceful stop", stop, budget)
	}
	// The mounts compose makes must be the image's volumes, or they hide
	// nothing and seeding or watching never sees them.
	volumes := map[string]bool{}
	for _, in := range finalStage(t).all("VOLUME") {
		for _, v := range in.words() {
			volumes[v] = true
		}
	}
	for _, m := range asList(dig(web, "volumes")) {
		parts := strings.Split(fmt.Sprint(m), ":")
		if len(parts) < 2 || !volumes[parts[1]] {
			t.Errorf("docker-compose.yml: volume %v mounts on no VOLUME of the image", m)
		}
	}
}

// k8sObjects reads the manifests kustomization.yaml lists, by kind.
func k8sObjects(t *testing.T) map[string]map[string]any {
	t.Helper()
	dir := filepath.Join("deploy", "kubernetes")
	kust := readYAML(t, filepath.Join(dir, "kustomization.yaml"))
	if len(kust) != 1 {
		t.Fatal("kustomization.yaml: want one document")
	}
	objs := map[string]map[string]any{}
	for _, r := range asList(kust[0]["resources"]) {
		for _, doc := range readYAML(t, filepath.Join(dir, fmt.Sprint(r))) {
			kind := fmt.Sprint(doc["kind"])
			if doc["apiVersion"] == nil || kind == "" {
				t.Errorf("%s: a document without apiVersion or kind", r)
			}
			// The first of a kind: the web stack's (worker.yaml has
			// its own checks, in workers_test.go).
			if objs[kind] == nil {
				objs[kind] = doc
			}
		}
	}
	return objs
}

func TestKubernetesAgreesWithConfig(t *testing.T) {
	objs := k8sObjects(t)
	cfg := shippedConfig(t)
	port := listenPort(t, cfg)
	dep, svc := objs["Deployment"], objs["Service"]
	if dep == nil || svc == nil {
		t.Fatalf("deploy/kubernetes: want a Deployment and a Service, have %v", slices.Sorted(maps.Keys(objs)))
	}
	pod := dig(dep, "spec", "template", "spec")
	ctr := dig(pod, "containers", 0)
	named := map[string]int{}
	for _, p := range asList(dig(ctr, "ports")) {
		n, _ := dig(p, "containerPort").(int)
		named[fmt.Sprint(dig(p, "name"))] = n
	}
	if named["metrics"] != port {
		t.Errorf("deployment: container port metrics is %d, phpinit listens on %d", named["metrics"], port)
	}
	if ann := fmt.Sprint(dig(dep, "spec", "template", "metadata", "annotations", "prometheus.io/port")); ann != strconv.Itoa(port) {
		t.Errorf("deployment: prometheus.io/port %q, phpinit listens on %d", ann, port)
	}
	for probe, want := range map[string]string{"startupProbe": "/readyz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		get := dig(ctr, probe, "httpGet")
		if get == nil {
			t.Errorf("deployment: no %s.httpGet", probe)
			continue
		}
		if p := dig(get, "path"); p != want {
			t.Errorf("deployment: %s path %v, want %s", probe, p, want)
		}
		if p := resolvePort(dig(get, "port"), named); p != port {
			t.Errorf("deployment: %s port %v is %d, phpinit listens on %d", probe, dig(get, "port"), p, port)
		}
	}
	// The site's port comes from the ConfigMap's server block.
	site := fmt.Sprint(dig(objs["ConfigMap"], "data", "site.conf"))
	m := regexp.MustCompile(`(?m)^\s*listen\s+(\d+)`).FindStringSubmatch(site)
	if m == nil {
		t.Fatal("configmap.yaml: site.conf has no listen")
	}
	if sitePort, _ := strconv.Atoi(m[1]); named["http"] != sitePort {
		t.Errorf("deployment: container port http is %d, the site listens on %d", named["http"], sitePort)
	}
	svcPorts := map[string]int{}
	for _, p := range asList(dig(svc, "spec", "ports")) {
		n, _ := dig(p, "port").(int)
		svcPorts[fmt.Sprint(dig(p, "name"))] = n
		if tp := resolvePort(dig(p, "targetPort"), named); tp == 0 {
			t.Errorf("service: targetPort %v names no container port", dig(p, "targetPort"))
		}
	}
	if svcPorts["http"] != 80 || svcPorts["metrics"] != port {
		t.Errorf("service: ports %v, want http 80 and metrics %d", svcPorts, port)
	}
	if sm := objs["ServiceMonitor"]; sm != nil {
		ep := dig(sm, "spec", "endpoints", 0)
		if _, ok := svcPorts[fmt.Sprint(dig(ep, "port"))]; !ok || dig(ep, "path") != "/metrics" {
			t.Errorf("servicemonitor: endpoint %v: want a service port name and /metrics", ep)
		}
	}
	// The kubelet's SIGKILL comes terminationGracePeriodSeconds after
	// SIGTERM; phpinit needs drain + grace before it.
	budget := cfg.Shutdown.Grace + cfg.Shutdown.Drain
	for _, e := range asList(dig(ctr, "env")) {
		if dig(e, "name") == "PHPINIT_SHUTDOWN_DRAIN" {
			d, err := time.ParseDuration(fmt.Sprint(dig(e, "value")))
			if err != nil {
				t.Fatalf("deployment: PHPINIT_SHUTDOWN_DRAIN: %v", err)
			}
			budget = cfg.Shutdown.Grace + d
		}
	}
	tg, _ := dig(pod, "terminationGracePeriodSeconds").(int)
	if time.Duration(tg)*time.Second <= budget {
		t.Errorf("deployment: terminationGracePeriodSeconds %d must exceed shutdown.grace+drain %v", tg, budget)
	}
	// A ConfigMap is updated in place only as a whole directory.
	for _, vm := range asList(dig(ctr, "volumeMounts")) {
		if dig(vm, "subPath") != nil && underWatch(fmt.Sprint(dig(vm, "mountPath")), cfg) {
			t.Errorf("deployment: subPath mount %v under a watched directory never sees updates", dig(vm, "mountPath"))
		}
	}
}

func underWatch(p string, cfg *config.Config) bool {
	for _, prog := range cfg.Programs {
		if underVolume(p, prog.Watch) != "" {
			return true
		}
	}
	return false
}

// resolvePort maps a probe's or Service's port (number or name) to a
// container port number; 0 when the name is unknown.
func resolvePort(v any, named map[string]int) int {
	if n, ok := v.(int); ok {
		return n
	}
	return named[fmt.Sprint(v)]
}
