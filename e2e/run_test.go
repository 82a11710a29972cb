package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// docker run -d -p 127.0.0.1:PORT:80 IMAGE: the page, the health, the logs.
func TestRunServes(t *testing.T) {
	needEngine(t)
	t.Parallel()
	c := run(t, nil)
	body := c.waitServing("/")
	if !strings.Contains(body, "phpinit") {
		t.Errorf("GET /: want the shipped index.php, got %.200q", body)
	}
	c.waitHealthy()
	code, _, err := get(c.url("/?e2e-access-line"))
	if err != nil || code != 200 {
		t.Fatalf("GET /?e2e-access-line: %d %v, want 200", code, err)
	}
	logs := c.waitLog(`"GET /?e2e-access-line HTTP/1.1" 200`)
	if n := count(logs, "/?e2e-access-line"); n != 1 {
		t.Errorf("nginx's access line appears %d times, want 1:\n%s", n, logs)
	}
	for _, notice := range []string{"NOTICE: fpm is running", "NOTICE: ready to handle connections"} {
		if n := count(logs, notice); n != 1 {
			t.Errorf("php-fpm's %q appears %d times, want 1:\n%s", notice, n, logs)
		}
	}
	if strings.Contains(logs, `the "user" directive makes sense only`) {
		t.Errorf("nginx's user directive warning in the log:\n%s", logs)
	}
}

// docker stop with 20 slow requests in flight: every one finishes, the exit
// status is 0, and no SIGKILL was needed (docker stop's default 10 s).
func TestStopDrains(t *testing.T) {
	needEngine(t)
	t.Parallel()
	c := run(t, nil)
	// Each request holds its worker until the test opens the gate (at most
	// 8 s), then works 1.5 s more: the pool is busy when docker stop starts
	// however slowly this machine polls.
	c.sh(`printf '<?php for ($i = 0; $i < 800 && !file_exists("/tmp/e2e-gate"); $i++) usleep(10000); usleep(1500000); echo "slow done\n";' > /data/www/slow.php`)
	c.waitServing("/")
	c.waitHealthy()

	const n = 20
	var wg sync.WaitGroup
	results := make([]string, n)
	started := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			started <- struct{}{}
			code, body, err := get(c.url(fmt.Sprintf("/slow.php?%d", i)))
			results[i] = fmt.Sprintf("%d %q %v", code, body, err)
			if err == nil && code == 200 && body == "slow done\n" {
				results[i] = "ok"
			}
		}(i)
	}
	for i := 0; i < n; i++ {
		<-started
	}
	// In flight: php-fpm's status page counts them. Most of the pool's 10
	// workers (pm.max_children) busy, the other requests queued behind them.
	active := regexp.MustCompile(`(?m)^active processes:\s+(\d+)$`)
	eventually(t, 30*time.Second, "8 slow requests running, the rest queued", func() (bool, string) {
		out, _ := c.exec("php", "-r", `echo @file_get_contents("http://127.0.0.1:8081/fpm-status");`)
		m := active.FindStringSubmatch(out)
		return m != nil && len(m[1]) == 1 && m[1][0] >= '8' || m != nil && len(m[1]) > 1, out
	})
	c.sh(`touch /tmp/e2e-gate`)
	begin := time.Now()
	mustDocker(t, "stop", c.id)
	took := time.Since(begin)
	wg.Wait()
	for i, r := range results {
		if r != "ok" {
			t.Errorf("request %d: %s", i, r)
		}
	}
	if code := c.inspect("{{.State.ExitCode}}"); code != "0" {
		t.Errorf("exit status %s after docker stop, want 0 (took %s)", code, took)
	}
	if logs := c.logs(); strings.Contains(logs, "SIGKILL") || strings.Contains(logs, "killed") {
		t.Errorf("something was killed (took %s):\n%s", took, tail(logs, 20))
	}
	t.Logf("docker stop with %d requests in flight took %s", n, took)
}

// docker kill -s HUP: phpinit reloads the programs; the site keeps serving.
func TestKillHUPReloads(t *testing.T) {
	needEngine(t)
	t.Parallel()
	c := run(t, nil)
	c.waitServing("/")
	c.waitHealthy()
	before := count(c.logs(), "reload")
	mustDocker(t, "kill", "-s", "HUP", c.id)
	eventually(t, 60*time.Second, "a reload in the log", func() (bool, string) {
		logs := c.logs()
		return count(logs, "reload") > before, tail(logs, 5)
	})
	c.waitServing("/")
	if st := c.inspect("{{.State.Status}}"); st != "running" {
		t.Fatalf("after HUP the container is %s", st)
	}
	// php-fpm re-executes on USR2 and takes the held socket again: its
	// start-up lines once each (the first start and the re-exec).
	const inherited = `using inherited socket fd=3, "/run/php/php-fpm.sock"`
	eventually(t, 60*time.Second, "php-fpm's re-exec in the log", func() (bool, string) {
		logs := c.logs()
		return count(logs, inherited) >= 2, tail(logs, 5)
	})
	time.Sleep(time.Second) // a duplicated line would follow at once
	if n := count(c.logs(), inherited); n != 2 {
		t.Errorf("php-fpm's inherited-socket line appears %d times, want 2 (start and re-exec):\n%s", n, tail(c.logs(), 30))
	}
}

// docker run IMAGE php -v: a one-off command, its output and status.
func TestOneOff(t *testing.T) {
	needEngine(t)
	t.Parallel()
	out := mustDocker(t, "run", "--rm", image, "php", "-v")
	if !strings.Contains(out, "PHP 8.2") {
		t.Errorf("php -v: %s", out)
	}
	out, err := docker(t, "run", "--rm", image, "php", "-r", "exit(3);")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("php -r 'exit(3);': %v, want exit status 3\n%s", err, out)
	}
}

// --read-only with tmpfs /run and /tmp, --user 1000, and both.
func TestRestricted(t *testing.T) {
	needEngine(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"read-only", []string{"--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp"}},
		{"user-1000", []string{"--user", "1000"}},
		{"read-only-user-1000", []string{"--read-only", "--tmpfs", "/run", "--tmpfs", "/tmp", "--user", "1000"}},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := run(t, tc.args)
			c.waitServing("/")
			c.waitHealthy()
			c.waitServing("/index.php")
			// HTTPS too: phpinit made /run/tls and its pair as this user.
			if cn, _, err := c.served(); cn != "localhost" {
				t.Errorf("HTTPS: %q %v, want the self-signed localhost", cn, err)
			}
		})
	}
}
