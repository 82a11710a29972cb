// Package fpmtest runs the real php-fpm8.2 for tests: one static pool of
// two workers on a unix socket, with ping.path /ping and pm.status_path
// /status.
package fpmtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Start runs the pool (skipping the test when php-fpm8.2 is missing, when
// not root, or under -short) and returns its address, unix:///..., once
// the socket accepts. It is stopped when the test ends.
func Start(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: php-fpm test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: the php-fpm test runs the pool as root (-R); run as root")
	}
	bin, err := exec.LookPath("php-fpm8.2")
	if err != nil {
		t.Skip("skipping: php-fpm8.2 not installed (apt-get install php8.2-fpm)")
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
	cmd := exec.Command(bin, "-F", "-R", "-y", conf)
	// Its own group, so cleanup can kill stray workers too.
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix://" + sock
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(errorLog)
			t.Fatalf("php-fpm exited early: %v\n%s", err, log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("php-fpm did not open its socket within 10s")
		}
	}
}
