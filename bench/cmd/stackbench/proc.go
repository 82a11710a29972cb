package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procStat is the part of /proc/PID/stat the benches need.
type procStat struct {
	PID, PPID, PGID int
	State           byte // R, S, Z, ...
	Comm            string
}

// readStat parses /proc/PID/stat; false when the process is gone.
func readStat(pid int) (procStat, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	s := string(raw)
	// comm may hold spaces and parentheses: it ends at the last ')'.
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 > len(s) {
		return procStat{}, false
	}
	f := strings.Fields(s[end+2:])
	if len(f) < 3 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return procStat{PID: pid, PPID: ppid, PGID: pgid, State: f[0][0], Comm: s[open+1 : end]}, true
}

// children lists the pids whose parent is pid. Each thread keeps its own
// list (proc(5), /proc/PID/task/TID/children), and a Go program forks and
// adopts orphans on any of its threads, so every thread is read.
func children(pid int) []int {
	var out []int
	lists, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range lists {
		raw, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(raw)) {
			if n, err := strconv.Atoi(w); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// statusFields sums the named numeric fields of /proc/PID/task/*/status over
// every thread (or reads /proc/PID/status alone when perThread is false).
func statusFields(pid int, perThread bool, names ...string) (map[string]int64, error) {
	files := []string{fmt.Sprintf("/proc/%d/status", pid)}
	if perThread {
		var err error
		files, err = filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("cannot list threads of pid %d", pid)
		}
	}
	sums := map[string]int64{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", f, err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			key, val, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			for _, n := range names {
				if key == n {
					v, _ := strconv.ParseInt(strings.Fields(val)[0], 10, 64)
					sums[n] += v
				}
			}
		}
	}
	return sums, nil
}

// ctxSwitches is every context switch of every thread of pid so far:
// each is a wakeup of that process (voluntary: it slept and was woken;
// nonvoluntary: it was preempted).
func ctxSwitches(pid int) (int64, error) {
	m, err := statusFields(pid, true, "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
	if err != nil {
		return 0, err
	}
	return m["voluntary_ctxt_switches"] + m["nonvoluntary_ctxt_switches"], nil
}

// memory reads VmRSS (KiB) and the thread count of pid.
func memory(pid int) (rssKiB, threads int64, parts map[string]int64, err error) {
	m, err := statusFields(pid, false, "VmRSS", "Threads", "RssAnon", "RssFile")
	if err != nil {
		return 0, 0, nil, err
	}
	// RssFile is pages of the executable and libraries (the page cache,
	// shared); RssAnon the process's own heap and stacks.
	return m["VmRSS"], m["Threads"], map[string]int64{"anon_kib": m["RssAnon"], "file_kib": m["RssFile"]}, nil
}

// fpmMasters lists the php-fpm masters under the init.
func fpmMasters(initPID int) []int { return masters(initPID, "php-fpm") }

// masters lists the masters of a daemon (comm starting with name:
// "php-fpm", "nginx") under the init, at any depth (s6 and a start script
// put a supervisor or a shell in between). A worker is not one: its parent
// is its master, or, once orphaned, its title says so ("php-fpm: pool www",
// "nginx: worker process"). A master that fails early (php-fpm's exit 78)
// has not set its title yet and still counts.
func masters(initPID int, name string) []int {
	var out []int
	queue := []int{initPID}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		parent, _ := readStat(pid)
		for _, c := range children(pid) {
			queue = append(queue, c)
			st, ok := readStat(c)
			if !ok || st.State == 'Z' || !strings.HasPrefix(st.Comm, name) || strings.HasPrefix(parent.Comm, name) {
				continue
			}
			raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
			title := string(raw)
			if strings.HasPrefix(title, name+": pool") || strings.HasPrefix(title, name+": worker") || strings.HasPrefix(title, name+": cache") {
				continue
			}
			out = append(out, c)
		}
	}
	return out
}

// cpuTime is the CPU time every thread of pid has run so far, from
// /proc/PID/task/*/schedstat (first field, nanoseconds): finer than the
// clock ticks of /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("cannot list threads of pid %d", pid)
	}
	var sum time.Duration
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return 0, fmt.Errorf("cannot read %s: %w", f, err)
		}
		fields := strings.Fields(string(raw))
		if len(fields) == 0 {
			continue
		}
		ns, _ := strconv.ParseInt(fields[0], 10, 64)
		sum += time.Duration(ns)
	}
	return sum, nil
}
