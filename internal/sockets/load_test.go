package sockets

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// clients is the load of the restart tests: 4 clients, each sending one
// request after another on a new connection.
const clients = 4

type load struct {
	network, addr string
	ok, failed    atomic.Int64
	mu            sync.Mutex
	errs          []error
	stop          chan struct{}
	wg            sync.WaitGroup
}

func startLoad(network, addr string) *load {
	l := &load{network: network, addr: addr, stop: make(chan struct{})}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if err := request(l.network, l.addr); err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err)
					}
					l.mu.Unlock()
					time.Sleep(time.Millisecond) // a refused dial fails at once: do not spin
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

// served waits until n more requests have been answered: the new master
// serves the load.
func (l *load) served(t *testing.T, n int64) {
	t.Helper()
	want := l.ok.Load() + n
	end := time.Now().Add(deadline)
	for l.ok.Load() < want {
		if time.Now().After(end) {
			t.Fatalf("no %d answers within %v (ok=%d failed=%d)", n, deadline, l.ok.Load(), l.failed.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func (l *load) check(t *testing.T, restarts int) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("%d clients, %d restarts: %d requests answered, %d failed", clients, restarts, l.ok.Load(), l.failed.Load())
	if n := l.failed.Load(); n != 0 {
		t.Fatalf("%d requests failed across restarts; first errors: %v", n, l.errs)
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
	before := l.failed.Load()
	d, n := restartLoop(t, l, d, run, 1)
	close(l.stop)
	l.wg.Wait()
	failed := l.failed.Load() - before
	if failed == 0 {
		t.Fatal("no request failed across restarts without a held socket: the test cannot tell holding from not")
	}
	t.Logf("without a held socket, %d restarts: %d requests failed (first: %v)", n, failed, l.errs[0])
	d.quit(t)
}
