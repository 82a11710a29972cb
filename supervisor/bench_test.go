package supervisor

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const benchOrphans = 5000

// BenchmarkReap5000Orphans times the loop reaping 5,000 orphans handed to it
// at once: from the moment their parent is told to exit until the snapshot
// counts every one reaped. It is the in-process half of bench/run.sh's
// orphan measurement (which runs the real binary as PID 1); here the test
// binary is the child subreaper, which the kernel treats like PID 1 when it
// reparents orphans.
//
// Each op first makes 5,000 processes, untimed, which takes seconds, so the
// iteration count must be given:
//
//	go test -run '^$' -bench Reap5000Orphans -benchtime 3x ./supervisor
func BenchmarkReap5000Orphans(b *testing.B) {
	if bt := flag.Lookup("test.benchtime"); bt == nil || !strings.HasSuffix(bt.Value.String(), "x") {
		b.Skip("each op first starts 5,000 processes; run with -benchtime 3x")
	}
	sup, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- sup.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// Run becomes subreaper before its loop serves the first command.
	if err := sup.Do(ctx, func() {}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		release := startOrphanMaker(b, benchOrphans)
		want := sup.Snapshot().OrphansReaped + benchOrphans + 1 // + the maker itself
		b.StartTimer()
		release()
		for sup.Snapshot().OrphansReaped < want {
			time.Sleep(20 * time.Microsecond)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchOrphans), "ns/orphan")
}

// startOrphanMaker runs this test binary as TestOrphanMaker, which starts n
// children that exit at once and never reaps them. It returns when all n
// are zombies; release then lets the maker exit, and the kernel hands the
// n zombies to the nearest subreaper, this process, with a SIGCHLD each
// (exit_notify: reparent_leader).
func startOrphanMaker(b *testing.B, n int) (release func()) {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	// syscall.ForkExec, not os/exec: the loop's wait4(-1) is the only
	// waiter, so cmd.Wait could never learn the maker's status.
	pid, err := syscall.ForkExec(self, []string{self, "-test.run=^TestOrphanMaker$"}, &syscall.ProcAttr{
		Env:   append(os.Environ(), "PHPINIT_ORPHAN_MAKER="+strconv.Itoa(n)),
		Files: []uintptr{inR.Fd(), outW.Fd(), os.Stderr.Fd()},
	})
	inR.Close()
	outW.Close()
	if err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(outR).ReadString('\n')
	outR.Close()
	if line != "ready\n" {
		b.Fatalf("orphan maker (pid %d) did not start its children: %q %v", pid, line, err)
	}
	waitZombies(b, pid, n)
	return func() { inW.Close() }
}

// waitZombies waits until pid has n children and all have exited.
func waitZombies(b *testing.B, pid, n int) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		zombies := 0
		lists, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
		for _, l := range lists {
			raw, _ := os.ReadFile(l)
			for _, c := range strings.Fields(string(raw)) {
				stat, _ := os.ReadFile("/proc/" + c + "/stat")
				if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
					zombies++
				}
			}
		}
		if zombies >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("orphan maker (pid %d): fewer than %d zombie children after a minute", pid, n)
}

// TestOrphanMaker is the helper process of BenchmarkReap5000Orphans (the
// pattern of os/exec's tests), not a test: it skips unless
// PHPINIT_ORPHAN_MAKER is set.
func TestOrphanMaker(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PHPINIT_ORPHAN_MAKER"))
	if n <= 0 {
		t.Skip("helper process of BenchmarkReap5000Orphans")
	}
	true_, err := exec.LookPath("true")
	if err != nil {
		fmt.Fprintln(os.Stderr, "orphan maker:", err)
		os.Exit(1)
	}
	for range n {
		// Never waited for: each stays a zombie child of this process.
		if _, err := syscall.ForkExec(true_, []string{"true"}, &syscall.ProcAttr{}); err != nil {
			fmt.Fprintln(os.Stderr, "orphan maker:", err)
			os.Exit(1)
		}
	}
	os.Stdout.WriteString("ready\n")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	os.Exit(0)
}
