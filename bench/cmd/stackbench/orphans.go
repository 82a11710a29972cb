package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// measureOrphans makes n orphans in the init's namespace and times how long
// the init takes to reap them once they exit.
//
// orphans.sh runs inside the namespace (nsenter), starts n background
// children that each read one line from a pipe, and exits: all n are
// reparented to PID 1, which alone can reap them. Once they all show up as
// PID 1's children, the bench writes n newlines into the pipe, evenly over
// o.releaseWindow (0: it closes the pipe and all exit at once); each line
// lets one orphan exit. The result is the time from the last line written
// to the first scan of PID 1's children (one every o.scanEvery) that finds
// no orphan left, alive or zombie: the last orphan's exit, plus the time
// to reap whatever is left, within one scan.
//
// The scans only count PID 1's children: reading 5,000 /proc/PID/stat
// files while they exit takes seconds on a small VM.
func measureOrphans(e env, name string, n int, o options) (Result, error) {
	r := Result{Measure: "orphans", Init: name, Unit: "ms",
		Extra: map[string]float64{"orphans": float64(n), "release_window_s": o.releaseWindow.Seconds()}}
	st, pid, err := upAndSettled(e, name, "orphans", o.settle)
	if err != nil {
		return r, err
	}
	defer st.Stop()
	baseline := len(children(pid)) // nginx's and php-fpm's masters

	spawnStart := time.Now()
	pw, err := spawnOrphans(e, st, pid, n)
	if err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}
	defer pw.Close()
	r.Extra["spawn_ms"] = ms(time.Since(spawnStart))
	if err := waitAdopted(pid, n, 30*time.Second); err != nil {
		return r, fmt.Errorf("%s: %w", name, err)
	}

	released := time.Now()
	done := make(chan time.Time, 1)
	go func() { done <- releaseOrphans(pw, n, o.releaseWindow) }()
	var lastRelease time.Time
	for {
		scanStart := time.Now()
		left := len(children(pid)) - baseline
		if lastRelease.IsZero() {
			select {
			case lastRelease = <-done:
				// Still there right after the last line: the backlog.
				r.Extra["left_at_last_release"] = float64(max(left, 0))
			default:
			}
		}
		switch {
		case lastRelease.IsZero():
		case left <= 0:
			r.Value = ms(scanStart.Sub(lastRelease))
			r.Extra["release_to_clean_ms"] = ms(scanStart.Sub(released))
			return r, nil
		case scanStart.Sub(lastRelease) > o.orphanTimeout:
			r.TimedOut, r.Value, r.Limit = true, ms(o.orphanTimeout), ms(o.orphanTimeout)
			r.Extra["orphans_left"] = float64(left)
			r.Note = fmt.Sprintf("%d of %d orphans still unreaped %v after the last was let go", left, n, o.orphanTimeout)
			return r, nil
		}
		time.Sleep(o.scanEvery)
	}
}

// spawnOrphans runs orphans.sh in the init's PID namespace, as www-data,
// and returns once the script has exited. Its n children each wait for a
// line on fd 3, a pipe whose write end it returns.
func spawnOrphans(e env, st *stack, initPID, n int) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	gen := exec.Command("nsenter", "--target", strconv.Itoa(initPID), "--pid", "--",
		"setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups",
		"/bin/sh", filepath.Join(e.Site, "orphans.sh"), strconv.Itoa(n))
	gen.ExtraFiles = []*os.File{pr} // fd 3; the write end stays close-on-exec
	// A file, not a pipe: the orphans inherit it, and a pipe would keep
	// Run waiting for them.
	gen.Stdout, gen.Stderr = st.log, st.log
	if err := gen.Run(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("orphans.sh in the namespace of pid %d: %w", initPID, err)
	}
	return pw, nil
}

// releaseOrphans lets n orphans exit evenly over window, a few each
// millisecond: dash's read builtin takes one byte at a time, so each
// newline ends exactly one orphan. Closing the pipe ends any left (all of
// them at once when window is 0). It returns when it let the last one go:
// the time is taken before the write, as the orphans then compete with the
// bench for the CPUs.
func releaseOrphans(pw *os.File, n int, window time.Duration) time.Time {
	start := time.Now()
	last := start
	for sent := 0; sent < n && window > 0; time.Sleep(time.Millisecond) {
		due := min(n, int(float64(n)*float64(time.Since(start))/float64(window))+1)
		if due > sent {
			last = time.Now()
			if _, err := pw.Write([]byte(strings.Repeat("\n", due-sent))); err != nil {
				break
			}
			sent = due
		}
	}
	if window <= 0 {
		last = time.Now()
	}
	pw.Close()
	return last
}

// waitAdopted waits until n orphans (sh, not exited) are children of the
// init.
func waitAdopted(initPID, n int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		adopted := 0
		for _, c := range children(initPID) {
			if st, ok := readStat(c); ok && st.Comm == "sh" && st.State != 'Z' {
				adopted++
			}
		}
		if adopted >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d orphans reparented to PID 1", adopted, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
