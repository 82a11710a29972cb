package sockets

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/phpinit/phpinit/internal/loadtest"
)

// clients is the load of the restart tests: 4 clients, each sending one
// request after another on a new connection.
const clients = 4

// load is the restart tests' load against network/addr.
type load struct{ *loadtest.Load }

func startLoad(network, addr string) *load {
	return &load{loadtest.Start(clients, func() error { return request(network, addr) })}
}

func (l *load) served(t *testing.T, n int64) {
	t.Helper()
	l.Served(t, n, deadline)
}

func (l *load) check(t *testing.T, restarts int) {
	t.Helper()
	l.End()
	t.Logf("%d clients, %d restarts: %d requests answered, %d failed", clients, restarts, l.Ok.Load(), l.Failed.Load())
	if n := l.Failed.Load(); n != 0 {
		t.Fatalf("%d requests failed across restarts; first errors: %v", n, l.Errs())
	}
}

// restartLoop restarts the program rounds times each way: QUIT then a new
// start; kill -9 of the master, QUIT to its orphaned workers (each
// finishes the request it is on), then a new start. Each new master must
// serve before the next restart.
func restartLoop(t *testing.T, l *load, d *daemon, run func() *daemon, rounds int) (*daemon, int) {
	t.Helper()
	n := 0
	for range rounds {
		d.quit(t)
		d = run()
		l.served(t, 2*clients)
		d.crash(t, syscall.SIGQUIT)
		d = run()
		l.served(t, 2*clients)
		n += 2
	}
	return d, n
}

func TestPHPFPMRestartsUnderLoadFailNothing(t *testing.T) {
	bin := needDaemon(t, "php-fpm8.2")
	dir := t.TempDir()
	public := filepath.Join(dir, "run", "php-fpm.sock")
	set, err := Bind(filepath.Join(dir, "held"), []Spec{{Address: mustParse(t, "unix://"+public), UID: -1, GID: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	conf := fpmConf(t, dir, public)
	run := func() *daemon { return start(t, set, bin, "-F", "-R", "-y", conf) }

	d := run()
	l := startLoad("unix", public)
	l.served(t, 2*clients)
	d, n := restartLoop(t, l, d, run, 3)
	l.check(t, n)
	d.quit(t)
}

func TestNginxRestartsUnderLoadFailNothing(t *testing.T) {
	bin := needDaemon(t, "nginx")
	dir := t.TempDir()
	set, err := Bind(filepath.Join(dir, "held"), []Spec{{Address: mustParse(t, "tcp://127.0.0.1:0"), UID: -1, GID: -1, Nonblocking: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	addr := set.Keys()[0]
	conf := nginxConf(t, dir, addr)
	run := func() *daemon { return start(t, set, bin, "-e", "stderr", "-p", dir, "-c", conf) }

	d := run()
	l := startLoad("tcp", addr)
	l.served(t, 2*clients)
	d, n := restartLoop(t, l, d, run, 3)
	l.check(t, n)
	d.quit(t)
}

// The control: the same restarts with php-fpm binding its own socket fail
// requests (refused, or no socket file at all while no master runs), so
// the 0 above is the held socket's doing.
func TestPHPFPMRestartsWithoutHeldSocketFail(t *testing.T) {
	bin := needDaemon(t, "php-fpm8.2")
	dir := t.TempDir()
	public := filepath.Join(dir, "php-fpm.sock")
	none, err := Bind(filepath.Join(dir, "held"), nil)
	if err != nil {
		t.Fatal(err)
	}
	conf := fpmConf(t, dir, public)
	run := func() *daemon { return start(t, none, bin, "-F", "-R", "-y", conf) }

	d := run()
	l := startLoad("unix", public)
	l.served(t, 2*clients) // the first requests may fail: the socket is not there yet
	before := l.Failed.Load()
	d, n := restartLoop(t, l, d, run, 1)
	l.End()
	failed := l.Failed.Load() - before
	if failed == 0 {
		t.Fatal("no request failed across restarts without a held socket: the test cannot tell holding from not")
	}
	t.Logf("without a held socket, %d restarts: %d requests failed (first: %v)", n, failed, l.Errs()[0])
	d.quit(t)
}
