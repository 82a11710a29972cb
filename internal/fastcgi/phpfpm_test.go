package fastcgi

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startPHPFPM runs the real php-fpm8.2 with one static pool on a unix socket
// in a temporary directory and returns the pool's address once it answers.
func startPHPFPM(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: php-fpm integration test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: php-fpm integration test runs the pool as root (-R); run as root")
	}
	bin, err := exec.LookPath("php-fpm8.2")
	if err != nil {
		t.Skip("skipping: php-fpm8.2 not installed")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "fpm.sock")
	errorLog := filepath.Join(dir, "error.log")
	conf := filepath.Join(dir, "php-fpm.conf")
	err = os.WriteFile(conf, fmt.Appendf(nil, `[global]
pid = %s
error_log = %s
daemonize = no

[www]
listen = %s
pm = static
pm.max_children = 2
ping.path = /ping
pm.status_path = /status
`, filepath.Join(dir, "fpm.pid"), errorLog, sock), 0o644)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-F", "-y", conf, "-R")
	// Its own process group, so that cleanup can kill stray workers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// TERM ends the workers with the master; KILL would orphan them
		// (FIELD-NOTES).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(errorLog)
			t.Logf("php-fpm error log:\n%s", log)
		}
	})

	address := "unix://" + sock
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := Do(ctxTimeout(t, time.Second), address, PingParams("/ping"), nil)
		if err == nil {
			return address
		}
		select {
		case err := <-exited:
			t.Fatalf("php-fpm exited: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("php-fpm did not answer within 10s: %v", err)
		}
	}
}

func TestPHPFPM(t *testing.T) {
	address := startPHPFPM(t)

	t.Run("ping", func(t *testing.T) {
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, PingParams("/ping"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "pong" {
			t.Errorf("got %d %q", resp.Status, resp.Body)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
		}
	})

	t.Run("status json", func(t *testing.T) {
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, StatusParams("/status", "json"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %v %q", resp.Status, resp.Header, resp.Body)
		}
		s, err := ParsePoolStatus(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if s.Pool != "www" || s.ProcessManager != "static" || s.TotalProcesses < 1 || s.AcceptedConn < 1 {
			t.Errorf("status %+v", *s)
		}
		if since := time.Now().Unix() - s.StartTime; since < 0 || since > 60 {
			t.Errorf("start time %d is %ds ago", s.StartTime, since)
		}
	})

	t.Run("status full", func(t *testing.T) {
		s, err := GetPoolStatus(ctxTimeout(t, 2*time.Second), address, "/status")
		if err != nil {
			t.Fatal(err)
		}
		if s.Pool != "www" {
			t.Errorf("status %+v", *s)
		}
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, StatusParams("/status", "json&full"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParsePoolStatus(resp.Body); err != nil {
			t.Error(err)
		}
	})

	t.Run("unknown script", func(t *testing.T) {
		resp, err := Do(ctxTimeout(t, 2*time.Second), address, PingParams("/nope.php"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 404 || !strings.Contains(string(resp.Stderr), "Primary script unknown") {
			t.Errorf("got %d body %q stderr %q", resp.Status, resp.Body, resp.Stderr)
		}
	})

	t.Run("status is not a pool status page for ping", func(t *testing.T) {
		_, err := GetPoolStatus(ctxTimeout(t, 2*time.Second), address, "/ping")
		if err == nil {
			t.Error("want an error parsing pong")
		}
	})

	t.Run("wrong socket", func(t *testing.T) {
		_, err := Do(ctxTimeout(t, 2*time.Second), address+".missing", PingParams("/ping"), nil)
		if err == nil || !strings.Contains(err.Error(), "cannot connect") {
			t.Errorf("err = %v", err)
		}
	})
}
