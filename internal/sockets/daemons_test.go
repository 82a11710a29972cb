package sockets

// These tests start the real php-fpm and nginx (not through phpinit) with
// held sockets, and show what phpinit's restarts will rely on: a
// connection made while no master runs waits in the backlog and is
// answered by the next master, and restarts under load fail no request.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/fastcgi"
)

// deadline bounds every wait: generous, the machine may be loaded.
const deadline = 60 * time.Second

func needDaemon(t *testing.T, bin string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: runs the real daemons; not in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: runs php-fpm and nginx as root; run as root")
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("skipping: %s not installed (apt-get install nginx php8.2-fpm)", bin)
	}
	return path
}

// daemon is one start of a program with the held sockets at fd 3 and up.
type daemon struct {
	cmd    *exec.Cmd
	done   chan struct{}
	stderr log
}

// log is the daemon's stdout and stderr, a file: with a pipe, cmd.Wait
// would wait for every writer, orphaned workers included, to close it.
type log struct{ path string }

func (l log) String() string {
	b, _ := os.ReadFile(l.path)
	return string(b)
}

func start(t *testing.T, set *Set, argv ...string) *daemon {
	t.Helper()
	return startAs(t, set, nil, argv...)
}

// startAs starts argv as cred's user (nil: root).
func startAs(t *testing.T, set *Set, cred *syscall.Credential, argv ...string) *daemon {
	t.Helper()
	if _, err := set.Relink(); err != nil {
		t.Fatal(err)
	}
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	d := &daemon{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{}), stderr: log{out.Name()}}
	files, err := set.Files()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.ExtraFiles = files
	d.cmd.Env = append(os.Environ(), set.Env(3)...)
	d.cmd.Stdout, d.cmd.Stderr = out, out
	// Its own group: a kill -9 of the master leaves its workers, which the
	// test then ends as a group, as phpinit does.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL); <-d.done })
	return d
}

func (d *daemon) wait(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
	case <-time.After(deadline):
		ps, _ := exec.Command("ps", "-eo", "pgid,pid,ppid,stat,wchan:20,args").CombinedOutput()
		var group []string
		for _, line := range strings.Split(string(ps), "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == fmt.Sprint(d.cmd.Process.Pid) {
				group = append(group, line)
			}
		}
		t.Fatalf("pid %d did not exit within %v; its group:\n%s\noutput:\n%s", d.cmd.Process.Pid, deadline, strings.Join(group, "\n"), d.stderr)
	}
}

// quit stops the master gracefully (QUIT, the shipped stop signal).
func (d *daemon) quit(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGQUIT)
	d.wait(t)
}

// crash kills the master with SIGKILL, then sends orphanSig to what is left
// of its process group (its workers) and waits until the group is gone.
// SIGKILL is what phpinit does today; SIGQUIT lets a worker finish the
// request it is on.
func (d *daemon) crash(t *testing.T, orphanSig syscall.Signal) {
	t.Helper()
	pgid := d.cmd.Process.Pid
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.wait(t)
	syscall.Kill(-pgid, orphanSig)
	end := time.Now().Add(deadline)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(end) {
			t.Fatalf("process group %d still there %v after the kill", pgid, deadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fcgiPing writes a FastCGI request for ping.path on c, keep-alive off.
func fcgiPing(c net.Conn) error {
	var b bytes.Buffer
	record := func(typ byte, body []byte) {
		b.Write([]byte{1, typ, 0, 1})
		binary.Write(&b, binary.BigEndian, uint16(len(body)))
		b.Write([]byte{0, 0})
		b.Write(body)
	}
	record(1, []byte{0, 1, 0, 0, 0, 0, 0, 0}) // BEGIN_REQUEST, responder
	var params []byte
	for k, v := range fastcgi.PingParams("/ping") {
		params = append(params, byte(len(k)), byte(len(v)))
		params = append(params, k+v...)
	}
	record(4, params)
	record(4, nil)
	record(5, nil)
	_, err := c.Write(b.Bytes())
	return err
}

// roundTrip reads the whole answer (the server closes the connection after
// it) and checks it holds want.
func roundTrip(c net.Conn, want string) error {
	c.SetDeadline(time.Now().Add(deadline))
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil {
		return err
	}
	if !bytes.Contains(got, []byte(want)) {
		return fmt.Errorf("answer %q has no %q", got, want)
	}
	return nil
}

// request is one whole request: to php-fpm (FastCGI ping) on a unix
// address, to nginx (HTTP/1.0 GET) on a tcp one.
func request(network, addr string) error {
	c, err := net.DialTimeout(network, addr, deadline)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(deadline))
	if network == "unix" {
		if err := fcgiPing(c); err != nil {
			c.Close()
			return err
		}
		return roundTrip(c, "pong")
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		c.Close()
		return err
	}
	return roundTrip(c, "200 OK")
}

func fpmConf(t *testing.T, dir, listen string) string {
	t.Helper()
	conf := filepath.Join(dir, "php-fpm.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, `[global]
pid = %[1]s/fpm.pid
error_log = %[1]s/fpm.log
daemonize = no
; QUIT lets workers finish their requests only when this is not 0 (the
; default): with 0 the master terminates them at once.
process_control_timeout = 20s

[www]
listen = %[2]s
pm = static
pm.max_children = 2
ping.path = /ping
`, dir, listen), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

func nginxConf(t *testing.T, dir, listen string) string {
	t.Helper()
	conf := filepath.Join(dir, "nginx.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, `daemon off;
pid %[1]s/nginx.pid;
error_log stderr notice;
worker_processes 2;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
        location / { return 200 "ok\n"; }
    }
}
`, dir, listen), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

func fileHas(t *testing.T, path, want string) {
	t.Helper()
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), want) {
		t.Fatalf("%s has no %q:\n%s", path, want, b)
	}
}

// backlogAcross sends a request while no master runs and checks that the
// next master answers it.
func backlogAcross(t *testing.T, network, addr string, next func() *daemon) *daemon {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatalf("connect while no master runs: %v (the held socket should take it)", err)
	}
	if network == "unix" {
		err = fcgiPing(c)
	} else {
		_, err = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	}
	if err != nil {
		t.Fatal(err)
	}
	d := next()
	want := "pong"
	if network == "tcp" {
		want = "200 OK"
	}
	if err := roundTrip(c, want); err != nil {
		t.Fatalf("the request sent while no master ran: %v", err)
	}
	return d
}

func TestPHPFPMBacklogAcrossRestarts(t *testing.T) {
	set, public := heldFPMSocket(t)
	ino := inode(t, public)
	run := rootFPM(t, set, public)

	d := run()
	if err := request("unix", public); err != nil {
		t.Fatal(err)
	}
	fileHas(t, filepath.Join(filepath.Dir(filepath.Dir(public)), "fpm.log"), fmt.Sprintf("using inherited socket fd=3, %q", public))
	if inode(t, public) != ino {
		t.Fatal("php-fpm bound a socket of its own instead of the inherited one")
	}

	d.quit(t)
	if _, err := os.Lstat(public); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after QUIT the public path is still there (%v): php-fpm was expected to unlink it", err)
	}
	back, err := set.Relink()
	if err != nil || len(back) != 1 {
		t.Fatalf("Relink after QUIT = %v, %v", back, err)
	}
	d = backlogAcross(t, "unix", public, run)

	d.crash(t, syscall.SIGKILL)
	if inode(t, public) != ino {
		t.Fatal("the public path changed after kill -9")
	}
	d = backlogAcross(t, "unix", public, run)
	d.quit(t)
}

func TestNginxBacklogAcrossRestarts(t *testing.T) {
	addr, run := heldNginx(t)

	d := run()
	if err := request("tcp", addr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.stderr.String(), `using inherited sockets from "3;"`) {
		t.Fatalf("nginx did not take the inherited socket:\n%s", d.stderr)
	}
	d.quit(t)
	d = backlogAcross(t, "tcp", addr, run)
	d.crash(t, syscall.SIGKILL)
	d = backlogAcross(t, "tcp", addr, run)
	d.quit(t)
}

// heldFPMSocket holds a unix socket at <tmp>/run/php-fpm.sock, owned by
// root, closed when the test ends.
func heldFPMSocket(t *testing.T) (*Set, string) {
	t.Helper()
	needDaemon(t, "php-fpm8.2")
	dir := t.TempDir()
	public := filepath.Join(dir, "run", "php-fpm.sock")
	set, err := Bind(filepath.Join(dir, "held"), []Spec{{Address: mustParse(t, "unix://"+public), UID: -1, GID: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set, public
}

// rootFPM returns a start of php-fpm as root (-R) with a pool on public,
// its config, pid file and log beside public's directory.
func rootFPM(t *testing.T, set *Set, public string) func() *daemon {
	t.Helper()
	bin := needDaemon(t, "php-fpm8.2")
	conf := fpmConf(t, filepath.Dir(filepath.Dir(public)), public)
	return func() *daemon { return start(t, set, bin, "-F", "-R", "-y", conf) }
}

// heldNginx holds a port on 127.0.0.1 and returns it with a start of
// nginx listening on it.
func heldNginx(t *testing.T) (string, func() *daemon) {
	t.Helper()
	bin := needDaemon(t, "nginx")
	dir := t.TempDir()
	set, err := Bind(filepath.Join(dir, "held"), []Spec{{Address: mustParse(t, "tcp://127.0.0.1:0"), UID: -1, GID: -1, Nonblocking: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	addr := set.Keys()[0]
	conf := nginxConf(t, dir, addr)
	return addr, func() *daemon { return start(t, set, bin, "-e", "stderr", "-p", dir, "-c", conf) }
}
