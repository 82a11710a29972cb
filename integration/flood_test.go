package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startPID1Limited is startPID1 with RLIMIT_NOFILE set to nofile (soft and
// hard) for phpinit and everything it starts, as `--ulimit nofile=` does.
func startPID1Limited(t *testing.T, nofile int, args ...string) *pid1 {
	t.Helper()
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	lim := fmt.Sprintf("--nofile=%d:%d", nofile, nofile)
	full := append([]string{lim, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child", phpinitBin}, args...)
	// prlimit execs unshare in place, whose child is phpinit.
	return launchPID1(t, exec.Command("prlimit", full...))
}

// openFDs counts pid's descriptors.
func openFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// rssKB is pid's VmRSS.
func rssKB(pid int) int {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}

// floodConns opens n connections to addr, each sending one keep-alive
// request and then staying idle, and returns them open.
func floodConns(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			// The backlog may be full for a moment; the flood is the point.
			continue
		}
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		conns = append(conns, c)
	}
	return conns
}

// 1,100 idle keep-alive connections to the health port under nofile=1024
// used to take every descriptor phpinit had: the php-fpm liveness probe
// failed, the restarts failed with "too many open files" and php-fpm went
// FATAL. Now the listener holds http.max_connections at most.
func TestHealthPortFloodKeepsDescriptors(t *testing.T) {
	st := newHealthSite(t, healthOpts{
		fpm: `    live: {fastcgi: "unix://@DIR@/run/php.sock", path: /ping, interval: 1s, failure_threshold: 2}`,
		extra: `metrics:
  phpfpm: [{address: "unix://@DIR@/run/php.sock", path: /status, pool: www}]`,
	})
	p := startPID1Limited(t, 1024, "run", "--config", st.config())
	waitReadyz(t, st, 200, 30*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", st.HTTPPort)
	baseFDs, baseRSS := openFDs(p.PID), rssKB(p.PID)

	conns := floodConns(t, addr, 1100)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	t.Logf("%d connections open on the client side; phpinit holds %d descriptors (%d before)", len(conns), openFDs(p.PID), baseFDs)
	if len(conns) < 1024 {
		t.Fatalf("only %d connections made: not a flood", len(conns))
	}
	// The liveness probe runs every second and restarts php-fpm after two
	// misses: hold the flood for several rounds.
	for range 8 {
		if n := openFDs(p.PID); n > 1024-256 {
			t.Errorf("phpinit holds %d descriptors of 1024 during the flood", n)
		}
		time.Sleep(time.Second)
	}
	sn := healthStatus(t, st)
	if fpm := statusOf(t, sn, "php-fpm"); fpm.State != "RUNNING" || fpm.Restarts != 0 {
		t.Errorf("php-fpm %s after %d restarts during the flood, want RUNNING with none", fpm.State, fpm.Restarts)
	}
	// A fresh connection is answered while the flood still holds its sockets.
	waitReadyz(t, st, 200, 30*time.Second)
	fams := scrapeMetrics(t, st)
	t.Logf("phpinit_http_connections_dropped_total %v", mustMetric(t, fams, "phpinit_http_connections_dropped_total"))

	// kill -9 of the php-fpm master is still recovered from.
	syscall.Kill(masterPID(t, p, "php-fpm"), syscall.SIGKILL)
	waitFor(t, "php-fpm restarted", 30*time.Second, func() bool {
		sn, err := healthTryStatus(t, st)
		if err != nil {
			return false
		}
		fpm, _ := sn.Program("php-fpm")
		return fpm.Restarts == 1 && fpm.State == "RUNNING" && fpm.Ready
	})
	waitReadyz(t, st, 200, 30*time.Second)
	for _, c := range conns {
		c.Close()
	}
	conns = nil

	// 15,000 connections, 1,000 open at a time: phpinit's memory stays
	// bounded (it went from 12 MB to 311 MB, kept after the flood).
	var held []net.Conn
	for i := 0; i < 15000; i += 500 {
		held = append(held, floodConns(t, addr, 500)...)
		if len(held) > 1000 {
			for _, c := range held[:500] {
				c.Close()
			}
			held = held[500:]
		}
	}
	for _, c := range held {
		c.Close()
	}
	waitReadyz(t, st, 200, 30*time.Second)
	after := rssKB(p.PID)
	t.Logf("phpinit RSS %d kB before the floods, %d kB after 15,000 connections", baseRSS, after)
	if after-baseRSS > 64<<10 {
		t.Errorf("phpinit RSS grew from %d kB to %d kB after the flood", baseRSS, after)
	}
	if v := mustMetric(t, scrapeMetrics(t, st), "phpfpm_up", "pool", "www"); v != 1 {
		t.Errorf("phpfpm_up{pool=www} = %v after the flood", v)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}
