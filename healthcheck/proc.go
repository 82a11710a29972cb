package healthcheck

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// kernel reports them in USER_HZ, which is 100 on every architecture Linux
// supports (proc(5); sysconf(_SC_CLK_TCK)); Go cannot call sysconf without cgo.
const clkTck = 100

// procFS reads process accounting from a proc filesystem. Tests point root
// at a fake tree and fix pageSize so golden output is the same everywhere.
type procFS struct {
	root     string // "/proc"
	pageSize int    // bytes per page, the unit of /proc/PID/statm
}

func hostProcFS() procFS { return procFS{root: "/proc", pageSize: os.Getpagesize()} }

// treeUsage is what one program's current process tree uses.
type treeUsage struct {
	// CPUSeconds is user + system time of the live processes and of the
	// children they reaped (cutime, cstime): php-fpm's master waits for its
	// recycled workers, so their time stays in the sum.
	CPUSeconds float64
	RSSBytes   uint64 // resident set size, summed: shared pages count once per process
	// PSSBytes is the proportional set size, summed: a page shared by n
	// processes counts 1/n in each, so the sum is what the tree costs.
	PSSBytes uint64
	HasPSS   bool // false when smaps_rollup cannot be read (Linux < 4.14)
	Procs    int
}

// procTable is one pass over /proc: every process's parent and CPU time.
type procTable struct {
	fs       procFS
	children map[int][]int
	ticks    map[int]uint64
}

// readProcTable lists every process. A process that exits while we read is
// left out: the table is a best-effort picture of one moment.
func (fs procFS) readProcTable() (*procTable, error) {
	entries, err := os.ReadDir(fs.root)
	if err != nil {
		return nil, fmt.Errorf("cannot list processes in %s: %w", fs.root, err)
	}
	t := &procTable{fs: fs, children: map[int][]int{}, ticks: map[int]uint64{}}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		ppid, ticks, err := fs.readStat(pid)
		if err != nil {
			continue
		}
		t.ticks[pid] = ticks
		t.children[ppid] = append(t.children[ppid], pid)
	}
	return t, nil
}

// readStat returns the parent and utime+stime+cutime+cstime (in clock
// ticks) of pid.
func (fs procFS) readStat(pid int) (ppid int, ticks uint64, err error) {
	b, err := os.ReadFile(filepath.Join(fs.root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(b)
}

// parseStat parses /proc/PID/stat. comm (field 2) is in parentheses and may
// itself hold spaces and ')', so fields are counted from the last ')'.
func parseStat(b []byte) (ppid int, ticks uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat: no comm")
	}
	// After comm: state(3) ppid(4) ... utime(14) stime(15) cutime(16)
	// cstime(17); cutime and cstime hold the waited-for children's time.
	f := bytes.Fields(b[i+1:])
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("malformed stat: %d fields after comm", len(f))
	}
	ppid, err = strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, 0, fmt.Errorf("malformed stat: ppid: %w", err)
	}
	for _, field := range f[11:15] {
		// cutime and cstime are signed in the kernel's format (%ld) but
		// never negative.
		n, err := strconv.ParseUint(string(field), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("malformed stat: cpu time: %w", err)
		}
		ticks += n
	}
	return ppid, ticks, nil
}

// usage sums CPU time and RSS over pid and all its descendants. It reports
// false when pid is not in the table (it exited).
func (t *procTable) usage(pid int) (treeUsage, bool) {
	if _, ok := t.ticks[pid]; !ok {
		return treeUsage{}, false
	}
	var u treeUsage
	var ticks uint64
	seen := map[int]bool{}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue // a PID reused between two reads can make a cycle
		}
		seen[p] = true
		u.Procs++
		ticks += t.ticks[p]
		if rss, err := t.fs.readRSS(p); err == nil {
			u.RSSBytes += rss
		}
		if pss, err := t.fs.readPSS(p); err == nil {
			u.PSSBytes += pss
			u.HasPSS = true
		}
		queue = append(queue, t.children[p]...)
	}
	u.CPUSeconds = float64(ticks) / clkTck
	return u, true
}

// readRSS is the resident field of /proc/PID/statm, in bytes.
func (fs procFS) readRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(fs.root, strconv.Itoa(pid), "statm"))
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, errors.New("malformed statm")
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed statm: %w", err)
	}
	return pages * uint64(fs.pageSize), nil
}

// readPSS is the Pss line of /proc/PID/smaps_rollup, in bytes.
func (fs procFS) readPSS(pid int) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(fs.root, strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("Pss:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, errors.New("malformed smaps_rollup Pss line")
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed smaps_rollup: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no Pss in smaps_rollup")
}
