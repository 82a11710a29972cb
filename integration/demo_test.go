package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoScript runs the README's first command as `make demo` does
// (scripts/demo.sh with the phpinit just built), on free ports: the site
// answers through nginx and php-fpm, /readyz is 200, and Ctrl-C (SIGINT)
// stops it with status 0.
func TestDemoScript(t *testing.T) {
	needStack(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// demo.sh runs the repo's bin/phpinit, as `make demo` builds it.
	if out, err := exec.Command("go", "build", "-o", filepath.Join(repo, "bin", "phpinit"), "../cmd/phpinit").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Its programs run as www-data: the tree must be reachable for them
	// (t.TempDir is 0700).
	parent, err := os.MkdirTemp("", "phpinit-demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	port, status, health := freePort(t), freePort(t), freePort(t)
	cmd := exec.Command(filepath.Join(repo, "scripts", "demo.sh"))
	cmd.Env = append(os.Environ(),
		"PHPINIT_DEMO_DIR="+filepath.Join(parent, "demo"),
		fmt.Sprintf("PHPINIT_DEMO_PORT=%d", port),
		fmt.Sprintf("PHPINIT_DEMO_STATUS_PORT=%d", status),
		fmt.Sprintf("PHPINIT_DEMO_HTTP=127.0.0.1:%d", health))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so a failed test can end nginx and php-fpm
	// too; and Wait never waits long for a pipe a leftover still holds.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo output:\n%s", out)
		}
		select {
		case <-done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	site := fmt.Sprintf("http://127.0.0.1:%d/", port)
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", health)
	waitFor(t, "the demo ready", 60*time.Second, func() bool {
		code, _ := get(readyz)
		return code == 200
	})
	if code, body := get(site); code != 200 || !strings.Contains(body, "phpinit") {
		t.Errorf("the demo page: %d %s", code, body)
	}
	// demo.sh execs phpinit: Ctrl-C reaches it.
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("demo after Ctrl-C: %v", waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of SIGINT")
	}
}
