// Package integration runs the real phpinit binary as PID 1 of a fresh PID
// namespace (unshare --pid --fork --mount-proc) with the real nginx and
// php-fpm from Debian, and talks to them over real sockets. Tests skip, saying
// why, under -short, when not root, when PID namespaces cannot be created (a
// container without CAP_SYS_ADMIN) or when nginx/php-fpm are missing; CI has
// everything.
package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"
)

var phpinitBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "phpinit-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	phpinitBin = filepath.Join(dir, "phpinit")
	build := exec.Command("go", "build", "-o", phpinitBin, "../cmd/phpinit")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build phpinit:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const phpFPM = "php-fpm8.2"

// needStack skips unless the test can run PID namespaces and the daemons.
func needStack(t *testing.T) {
	t.Helper()
	needRoot(t)
	for _, bin := range []string{"nginx", phpFPM} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install nginx php8.2-fpm): %v", bin, err)
		}
	}
	if _, err := user.Lookup("www-data"); err != nil {
		t.Skip("no www-data user")
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs phpinit as PID 1 with the real daemons")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for PID namespaces and user switching")
	}
	if reason := pidNamespaces(); reason != "" {
		t.Skip(reason)
	}
}

var (
	probeOnce   sync.Once
	probeReason string
)

// pidNamespaces says why this machine cannot run phpinit as PID 1 of a new
// PID namespace, or "" when it can. It asks once: in a container without
// CAP_SYS_ADMIN (Docker's default) root gets EPERM, and every test would
// otherwise fail after its timeout.
func pidNamespaces() string {
	probeOnce.Do(func() {
		if _, err := exec.LookPath("unshare"); err != nil {
			probeReason = "unshare (util-linux) not installed"
			return
		}
		cmd := exec.Command("unshare", "--pid", "--fork", "--mount-proc", "true")
		out, err := cmd.CombinedOutput()
		if err != nil {
			probeReason = fmt.Sprintf("cannot create PID namespaces (unshare --pid --fork --mount-proc true: %s); "+
				"in a container that needs CAP_SYS_ADMIN (docker run --cap-add SYS_ADMIN)", firstLine(out, err))
		}
	})
	return probeReason
}

// firstLine is a command's first line of output, else its error.
func firstLine(out []byte, err error) string {
	if l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); l != "" {
		return l
	}
	return err.Error()
}

// site is a temp tree with nginx, php-fpm and phpinit configs.
type site struct {
	Dir       string
	Port      int // nginx
	HTTPPort  int // phpinit's health/metrics listener
	ExtraYAML string
	// Programs is inserted under programs:, after php-fpm and nginx.
	Programs string
	// NoStack leaves nginx and php-fpm out.
	NoStack bool
	// Script is the hook script's body.
	Script string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newSite lays out a site readable by www-data (t.TempDir is 0700).
func newSite(t *testing.T, s site) *site {
	t.Helper()
	dir, err := os.MkdirTemp("", "phpinit-it-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.Dir = dir
	s.Port = freePort(t)
	s.HTTPPort = freePort(t)
	www, _ := user.Lookup("www-data")
	uid, _ := strconv.Atoi(www.Uid)
	gid, _ := strconv.Atoi(www.Gid)
	for _, d := range []string{"www", "conf/nginx", "conf/php-fpm", "run", "tmp", "script/init.d", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	for _, d := range []string{"run", "tmp", "log"} {
		os.Chown(filepath.Join(dir, d), uid, gid)
	}
	files := map[string]string{
		"www/index.php": `<?php echo "hello from ", getmypid(), " FOO=", getenv("FOO"), " BAR=", getenv("BAR"), " USER=", getenv("USER"), "\n";`,
		"www/slow.php":  `<?php usleep(isset($_GET["ms"]) ? (int)$_GET["ms"] * 1000 : 1000000); echo "slow done\n";`,
		"www/hang.php":  `<?php sleep(3600);`,
		"conf/php-fpm.conf": `[global]
pid = {{.Dir}}/run/php-fpm.pid
error_log = /proc/self/fd/2
daemonize = no
process_control_timeout = 20s
include = {{.Dir}}/conf/php-fpm/*.conf
`,
		"conf/php-fpm/www.conf": `[www]
listen = {{.Dir}}/run/php.sock
pm = static
pm.max_children = 24
pm.status_path = /status
ping.path = /ping
clear_env = no
catch_workers_output = yes
decorate_workers_output = no
`,
		"conf/nginx.conf": `pid {{.Dir}}/run/nginx.pid;
error_log stderr notice;
worker_processes 2;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path {{.Dir}}/tmp/body;
    proxy_temp_path {{.Dir}}/tmp/proxy;
    fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
    uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
    scgi_temp_path {{.Dir}}/tmp/scgi;
    server {
        listen 127.0.0.1:{{.Port}};
        root {{.Dir}}/www;
        index index.php;
        location ~ \.php$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_read_timeout 3600s;
            fastcgi_pass unix:{{.Dir}}/run/php.sock;
        }
        location = /stub_status { stub_status; }
        include {{.Dir}}/conf/nginx/*.conf;
    }
}
`,
		"phpinit.yaml": `log: {level: debug}
hooks:
  script: {{.Dir}}/script/script.sh
  dir: {{.Dir}}/script/init.d
  timeout: 3s
shutdown: {grace: 15s}
http: {listen: "127.0.0.1:{{.HTTPPort}}"}
control: {socket: {{.Dir}}/run/phpinit.sock}
{{.ExtraYAML}}
programs:
{{- if not .NoStack}}
  php-fpm:
    command: [php-fpm8.2, --nodaemonize, --fpm-config, {{.Dir}}/conf/php-fpm.conf]
    user: www-data
    stop_timeout: 12s
    reload_signal: USR2
    check: [php-fpm8.2, -t, --fpm-config, {{.Dir}}/conf/php-fpm.conf]
    ready: {fastcgi: "unix://{{.Dir}}/run/php.sock", path: /ping}
  nginx:
    command: [nginx, -e, stderr, -p, {{.Dir}}, -c, {{.Dir}}/conf/nginx.conf, -g, "daemon off;"]
    user: www-data
    depends_on: [php-fpm]
    reload_signal: HUP
    check: [nginx, -e, stderr, -t, -q, -p, {{.Dir}}, -c, {{.Dir}}/conf/nginx.conf, -g, "daemon off;"]
    ready: {http: "http://127.0.0.1:{{.Port}}/stub_status"}
{{- end}}
{{.Programs}}
`,
		"script/script.sh": `{{.Script}}`,
	}
	for name, body := range files {
		tpl := template.Must(template.New(name).Parse(body))
		var b bytes.Buffer
		if err := tpl.Execute(&b, s); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &s
}

func (s *site) path(p string) string { return filepath.Join(s.Dir, p) }
func (s *site) config() string       { return s.path("phpinit.yaml") }
func (s *site) url(p string) string  { return fmt.Sprintf("http://127.0.0.1:%d%s", s.Port, p) }

// syncBuffer collects phpinit's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// pid1 is phpinit running as PID 1 of its own PID namespace.
type pid1 struct {
	t    *testing.T
	cmd  *exec.Cmd
	PID  int // phpinit's pid as the host sees it
	Out  *syncBuffer
	done chan struct{}
	code int
}

// startPID1 runs phpinit ARGS as PID 1 in a new PID and mount namespace.
func startPID1(t *testing.T, args ...string) *pid1 {
	t.Helper()
	full := append([]string{"--pid", "--fork", "--mount-proc", "--kill-child", phpinitBin}, args...)
	return launchPID1(t, exec.Command("unshare", full...))
}

// launchPID1 starts cmd, a launcher (unshare, or something that execs it)
// whose child is phpinit as PID 1 of a new namespace, and stops phpinit
// when the test ends.
func launchPID1(t *testing.T, cmd *exec.Cmd) *pid1 {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pid1{t: t, cmd: cmd, Out: out, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.code = exitCode(err)
		close(p.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for p.PID == 0 && time.Now().Before(deadline) {
		for _, k := range children(cmd.Process.Pid) {
			if pr, ok := readProc(k); ok && pr.Comm == "phpinit" {
				p.PID = k
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	if p.PID == 0 {
		t.Fatalf("phpinit did not start; output:\n%s", out)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(p.PID, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("phpinit output:\n%s", p.Out)
		}
	})
	return p
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

func (p *pid1) signal(sig syscall.Signal) {
	if err := syscall.Kill(p.PID, sig); err != nil {
		p.t.Fatalf("cannot signal phpinit: %v", err)
	}
}

// wait returns phpinit's exit status (unshare passes it through).
func (p *pid1) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		p.t.Fatalf("phpinit did not exit within %v; output:\n%s", d, p.Out)
		return -1
	}
}

// waitOutput waits for s to appear in phpinit's output.
func (p *pid1) waitOutput(s string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Out.String(), s) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.t.Fatalf("%q not in phpinit's output after %v:\n%s", s, d, p.Out)
}

// children lists the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		raw, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(raw)) {
			n, _ := strconv.Atoi(w)
			out = append(out, n)
		}
	}
	return out
}

// proc is one process as /proc shows it.
type proc struct {
	PID, PPID int
	State     string
	Comm      string
	UID       int
}

func readProc(pid int) (proc, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, false
	}
	s := string(raw)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	f := strings.Fields(s[close+2:])
	ppid, _ := strconv.Atoi(f[1])
	p := proc{PID: pid, PPID: ppid, State: f[0], Comm: s[open+1 : close]}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			p.UID, _ = strconv.Atoi(strings.Fields(rest)[0])
		}
	}
	return p, true
}

// descendants lists every process below pid.
func descendants(pid int) []proc {
	var out []proc
	queue := children(pid)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if p, ok := readProc(n); ok {
			out = append(out, p)
		}
		queue = append(queue, children(n)...)
	}
	return out
}

var client = &http.Client{Timeout: 10 * time.Second}

// get fetches url and returns status and body.
func get(url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHTTP polls url until it answers want.
func waitHTTP(t *testing.T, url string, want int, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := get(url)
		if err == nil && code == want {
			return body
		}
		last = fmt.Sprintf("%d %q %v", code, body, err)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d; last: %s", url, want, last)
	return ""
}

// masterPID finds the program's main process (child of phpinit) by comm.
func masterPID(t *testing.T, p *pid1, comm string) int {
	t.Helper()
	for _, k := range children(p.PID) {
		if pr, ok := readProc(k); ok && strings.HasPrefix(pr.Comm, comm) {
			return k
		}
	}
	t.Fatalf("no %s under phpinit", comm)
	return 0
}

// hostPPID returns the parent (host pid) of the process among candidates
// whose innermost namespace pid is nsPID, or 0.
func hostPPID(nsPID int, candidates []int) int {
	for _, c := range candidates {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
				f := strings.Fields(rest)
				if f[len(f)-1] == strconv.Itoa(nsPID) {
					p, _ := readProc(c)
					return p.PPID
				}
			}
		}
	}
	return 0
}
