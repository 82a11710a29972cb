package supervisor

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A program with Listeners gets the files at fd 3 and up and the Env at
// every start; AfterExit runs after each exit of the main process; after a
// kill -9 of the main process its orphaned workers get SIGQUIT (and SIGKILL
// only StopTimeout later, when QUIT does not end them).
func TestListenersPassedAndOrphansQuit(t *testing.T) {
	for _, mode := range []string{"quit", "ignore"} {
		t.Run("worker "+mode, func(t *testing.T) {
			dir := t.TempDir()
			held, err := os.Create(filepath.Join(dir, "held"))
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			var exits atomic.Int64
			// The master records what fd 3 is and HELD; its worker (in
			// its group; the test binary, since sh ignores QUIT in a
			// background job) records its pid and handles QUIT as mode
			// says.
			p := shSpec("master", fmt.Sprintf(`readlink /proc/self/fd/3 >> %[1]s/fd3; echo "$HELD" >> %[1]s/env; %[2]q -test.run='^TestHelperWorker$' & exec sleep 100`, dir, os.Args[0]))
			p.Env = append(os.Environ(), "PHPINIT_TEST_WORKER="+dir, "PHPINIT_TEST_WORKER_MODE="+mode)
			p.StopTimeout = 300 * time.Millisecond
			p.Listeners = &Listeners{
				Files:     func() ([]uintptr, error) { return []uintptr{held.Fd()}, nil },
				Env:       []string{"HELD=yes"},
				AfterExit: func() error { exits.Add(1); return nil },
			}
			r := start(t, Options{Programs: []ProgramSpec{p}, Logger: testLogger(t)})
			first := r.waitFor(t, "running", state("master", "RUNNING"))
			pm, _ := first.Program("master")
			workerPID := waitLine(t, filepath.Join(dir, "workers"))
			if err := syscall.Kill(pm.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			r.waitFor(t, "restarted", func(sn *Snapshot) bool {
				p, _ := sn.Program("master")
				return p.State == "RUNNING" && p.PID != pm.PID && p.PID != 0
			})
			if syscall.Kill(workerPID, 0) == nil {
				t.Errorf("orphaned worker %d still alive after the restart", workerPID)
			}
			if n := exits.Load(); n != 1 {
				t.Errorf("AfterExit ran %d times, want 1", n)
			}
			quits, _ := os.ReadFile(filepath.Join(dir, "quits"))
			if mode == "quit" && string(quits) != "quit\n" {
				t.Errorf("the orphaned worker did not get QUIT: %q", quits)
			}
			waitLines(t, filepath.Join(dir, "fd3"), 2)
			fd3, _ := os.ReadFile(filepath.Join(dir, "fd3"))
			env, _ := os.ReadFile(filepath.Join(dir, "env"))
			if want := strings.Repeat(held.Name()+"\n", 2); string(fd3) != want {
				t.Errorf("fd 3 of the two starts: %q, want %q", fd3, want)
			}
			if string(env) != "yes\nyes\n" {
				t.Errorf("HELD of the two starts: %q", env)
			}
		})
	}
}

// TestHelperWorker is the worker of TestListenersPassedAndOrphansQuit.
func TestHelperWorker(t *testing.T) {
	dir := os.Getenv("PHPINIT_TEST_WORKER")
	if dir == "" {
		t.Skip("the worker of TestListenersPassedAndOrphansQuit")
	}
	quit := make(chan os.Signal, 1)
	signal.Notify(quit, syscall.SIGQUIT)
	appendLine(t, filepath.Join(dir, "workers"), strconv.Itoa(os.Getpid()))
	<-quit
	if os.Getenv("PHPINIT_TEST_WORKER_MODE") == "ignore" {
		select {} // until SIGKILL
	}
	appendLine(t, filepath.Join(dir, "quits"), "quit")
	os.Exit(0)
}

func appendLine(t *testing.T, path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

// waitLine waits for path's first line, a number.
func waitLine(t *testing.T, path string) int {
	t.Helper()
	waitLines(t, path, 1)
	raw, _ := os.ReadFile(path)
	n, err := strconv.Atoi(strings.Fields(string(raw))[0])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if raw, err := os.ReadFile(path); err == nil && strings.Count(string(raw), "\n") >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	raw, _ := os.ReadFile(path)
	t.Fatalf("%s has fewer than %d lines after 20s: %q", path, n, raw)
}
