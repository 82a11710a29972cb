package integration

// Held listening sockets (the `sockets` key): phpinit binds php-fpm's unix
// socket and nginx's port once and hands them to every start, so restarts
// under load fail no request. PHPINIT_TEST_HELD=off runs the same test with
// the sockets left out, to show that it is the held sockets that make the
// failure counts 0 (it then fails).

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/loadtest"
	"github.com/phpinit/phpinit/supervisor"
)

// heldDeadline bounds every wait of these tests: generous, the machine may
// be loaded.
const heldDeadline = 60 * time.Second

// heldPrograms is the site's php-fpm and nginx with their listeners held
// (or not, with sockets false). Placeholders: {{DIR}}, {{PORT}}.
const heldPrograms = `  php-fpm:
    command: [php-fpm8.2, --nodaemonize, --fpm-config, {{DIR}}/conf/php-fpm.conf]
    user: www-data
    stop_timeout: 12s
    reload_signal: USR2
    check: [php-fpm8.2, -t, --fpm-config, {{DIR}}/conf/php-fpm.conf]
    ready: {fastcgi: "unix://{{DIR}}/run/php.sock", path: /ping}
{{FPM_SOCKETS}}
  nginx:
    command: [nginx, -e, stderr, -p, {{DIR}}, -c, {{DIR}}/conf/nginx.conf, -g, "daemon off;"]
    user: www-data
    depends_on: [php-fpm]
    stop_timeout: 12s
    reload_signal: HUP
    check: [nginx, -e, stderr, -t, -q, -p, {{DIR}}, -c, {{DIR}}/conf/nginx.conf, -g, "daemon off;"]
    ready: {http: "http://127.0.0.1:{{PORT}}/stub_status"}
{{NGINX_SOCKETS}}
`

// heldSite writes a site whose programs hold their sockets when sockets
// is true, and starts phpinit on it, serving.
func heldSite(t *testing.T, sockets bool) (*site, *pid1) {
	t.Helper()
	needStack(t)
	st := newSite(t, site{NoStack: true})
	fpm, ngx := "", ""
	if sockets {
		fpm = "    sockets: [unix://{{DIR}}/run/php.sock]"
		ngx = "    sockets: [tcp://127.0.0.1:{{PORT}}]"
	}
	progs := strings.NewReplacer("{{FPM_SOCKETS}}", fpm, "{{NGINX_SOCKETS}}", ngx).Replace(heldPrograms)
	progs = strings.NewReplacer("{{DIR}}", st.Dir, "{{PORT}}", fmt.Sprint(st.Port)).Replace(progs)
	b, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.config(), append(b, progs...), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPID1(t, "--config", st.config())
	waitHTTP(t, st.url("/index.php"), 200, heldDeadline)
	return st, p
}

// heldClient sends requests on a new connection each.
var heldClient = &http.Client{Timeout: heldDeadline, Transport: &http.Transport{DisableKeepAlives: true}}

// startHeldLoad is 4 clients, each sending a request through nginx to
// php-fpm after another, each on a new connection. A request fails when it
// gets an error (refused, reset) or any status but 200.
func startHeldLoad(url string) *loadtest.Load {
	return loadtest.Start(4, func() error { return getHello(heldClient, url) })
}

// getHello fetches url and wants a 200 with the site's greeting.
func getHello(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello from") {
		return fmt.Errorf("status %d: %.40q", resp.StatusCode, body)
	}
	return nil
}

// waitNewMaster waits for a main process named comm other than old.
func waitNewMaster(t *testing.T, p *pid1, comm string, old int) int {
	t.Helper()
	end := time.Now().Add(heldDeadline)
	for time.Now().Before(end) {
		for _, k := range children(p.PID) {
			if pr, ok := readProc(k); ok && k != old && strings.HasPrefix(pr.Comm, comm) {
				return k
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no new %s under phpinit within %v", comm, heldDeadline)
	return 0
}

func TestHeldSocketsRestartsUnderLoadFailNothing(t *testing.T) {
	sockets := os.Getenv("PHPINIT_TEST_HELD") != "off"
	st, p := heldSite(t, sockets)
	l := startHeldLoad(st.url("/index.php"))
	l.Served(t, 8, heldDeadline)

	failures := map[string]int64{}
	phase := func(name string, restart func()) {
		before := l.Failed.Load()
		restart()
		// The new master serves the load before the next restart.
		l.Served(t, 8, heldDeadline)
		failures[name] += l.Failed.Load() - before
	}
	// A request in flight on a worker when its master is killed: the
	// orphaned worker gets QUIT and finishes it.
	marker := st.path("run/inflight")
	inflight := fmt.Sprintf(`<?php touch(%q); usleep(500000); echo "hello from the orphan\n";`, marker)
	if err := os.WriteFile(st.path("www/inflight.php"), []byte(inflight), 0o644); err != nil {
		t.Fatal(err)
	}
	slow := make(chan error, 1)
	for round := range 3 {
		phase("kill -9 php-fpm", func() {
			if round == 0 {
				go func() { slow <- getHello(client, st.url("/inflight.php")) }()
				waitFile(t, marker)
			}
			old := masterPID(t, p, "php-fpm")
			syscall.Kill(old, syscall.SIGKILL)
			waitNewMaster(t, p, "php-fpm", old)
			waitCtlStatus(t, st, "php-fpm running again", func(sn *supervisor.Snapshot) bool {
				return progState(sn, "php-fpm") == "RUNNING"
			})
		})
		if round == 0 {
			if err := <-slow; err != nil {
				t.Errorf("the request in flight when the master was killed: %v", err)
			}
		}
		for _, prog := range []string{"php-fpm", "nginx"} {
			phase("ctl restart "+prog, func() {
				if _, errOut, code := runCtl(t, st, "restart", prog); code != 0 {
					t.Fatalf("ctl restart %s: exit %d: %s", prog, code, errOut)
				}
			})
		}
	}
	l.End()
	t.Logf("sockets held: %v; 4 clients, 3 rounds: %d requests answered; failed: %v; first errors: %q",
		sockets, l.Ok.Load(), failures, l.Errs())
	for _, name := range []string{"kill -9 php-fpm", "ctl restart php-fpm", "ctl restart nginx"} {
		if failures[name] != 0 {
			t.Errorf("%s: %d requests failed", name, failures[name])
		}
	}
	if !sockets {
		return
	}
	out := p.Out.String()
	for _, want := range []string{
		fmt.Sprintf("using inherited socket fd=3, %q", st.path("run/php.sock")),
		`using inherited sockets from "3;"`,
		"stopping what is left of the process group",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("phpinit's output has no %q", want)
		}
	}
}

// php-fpm -t and nginx -t run as before (without the sockets: php-fpm -t
// binds nothing, nginx -t ignores an address in use), and the reloads keep
// the held sockets: php-fpm's USR2 re-exec passes them on itself.
func TestHeldSocketsReloadChecks(t *testing.T) {
	st, p := heldSite(t, true)
	sock := st.path("run/php.sock")
	ino := socketInode(t, sock)
	for _, prog := range []string{"php-fpm", "nginx"} {
		if _, errOut, code := runCtl(t, st, "reload", prog); code != 0 {
			t.Fatalf("ctl reload %s: exit %d: %s", prog, code, errOut)
		}
	}
	waitCtlStatus(t, st, "both reloaded and running", func(sn *supervisor.Snapshot) bool {
		for _, prog := range []string{"php-fpm", "nginx"} {
			pr, ok := sn.Program(prog)
			if !ok || pr.State != "RUNNING" || pr.LastReload == nil || pr.LastReload.Result != "ok" {
				return false
			}
		}
		return true
	})
	waitHTTP(t, st.url("/index.php"), 200, heldDeadline)
	if socketInode(t, sock) != ino {
		t.Fatal("php-fpm's socket file changed across the reload: it bound its own")
	}
	if n := strings.Count(p.Out.String(), "using inherited socket fd=3"); n < 2 {
		t.Fatalf("php-fpm took the held socket %d times, want the start and the re-exec", n)
	}
}

// Without `sockets:` nothing changes: php-fpm binds its own socket, no
// FPM_SOCKETS or NGINX reach the programs, and after a kill -9 of the
// master its workers are killed at once.
func TestHeldSocketsOffByDefault(t *testing.T) {
	st, p := heldSite(t, false)
	old := masterPID(t, p, "php-fpm")
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", old))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if strings.HasPrefix(kv, "FPM_SOCKETS=") || strings.HasPrefix(kv, "NGINX=") {
			t.Fatalf("php-fpm got %s without sockets held", kv)
		}
	}
	syscall.Kill(old, syscall.SIGKILL)
	waitNewMaster(t, p, "php-fpm", old)
	waitHTTP(t, st.url("/index.php"), 200, heldDeadline)
	out := p.Out.String()
	if strings.Contains(out, "using inherited socket") || strings.Contains(out, "holding sockets") {
		t.Fatalf("sockets were held without the sockets key:\n%s", out)
	}
	if !strings.Contains(out, "killing what is left of the process group") {
		t.Fatalf("the orphaned workers were not killed as before:\n%s", out)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	end := time.Now().Add(heldDeadline)
	for time.Now().Before(end) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s not there after %v", path, heldDeadline)
}

func socketInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// A phpinit.yaml reload keeps a program's held sockets when they are
// unchanged (php-fpm restarts for another change and takes the same
// socket) and is refused when they change.
func TestHeldSocketsConfigReload(t *testing.T) {
	st, p := heldSite(t, true)
	sock := st.path("run/php.sock")
	ino := socketInode(t, sock)
	conf, err := os.ReadFile(st.config())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) {
		t.Helper()
		if !strings.Contains(string(conf), old) {
			t.Fatalf("phpinit.yaml has no %q", old)
		}
		conf = []byte(strings.Replace(string(conf), old, new, 1))
		if err := os.WriteFile(st.config(), conf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	edit("    user: www-data\n    stop_timeout: 12s\n    reload_signal: USR2", "    user: www-data\n    environment: {FOO: changed}\n    stop_timeout: 12s\n    reload_signal: USR2")
	// Its exit status may say that php-fpm, restarting for the change, is
	// not there to reload: the config part is what counts.
	runCtl(t, st, "reload")
	p.waitOutput("config reloaded", heldDeadline)
	end := time.Now().Add(heldDeadline)
	for {
		if code, body, err := get(st.url("/index.php")); err == nil && code == 200 && strings.Contains(body, "FOO=changed") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("php-fpm did not restart with FOO=changed:\n%s", p.Out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if socketInode(t, sock) != ino {
		t.Fatal("the socket was bound again across a reload that left it unchanged")
	}

	other := freePort(t)
	edit(fmt.Sprintf("sockets: [tcp://127.0.0.1:%d]", st.Port), fmt.Sprintf("sockets: [tcp://127.0.0.1:%d, tcp://127.0.0.1:%d]", st.Port, other))
	_, errOut, code := runCtl(t, st, "reload")
	if code == 0 || !strings.Contains(errOut, "restart phpinit") {
		t.Fatalf("ctl reload changing nginx's sockets: exit %d, %q; want a refusal", code, errOut)
	}
	waitHTTP(t, st.url("/index.php"), 200, heldDeadline)
}
