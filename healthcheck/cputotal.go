package healthcheck

import (
	"slices"
	"sync"
)

// cpuTotals keeps phpinit_program_cpu_seconds_total a counter: a process
// tree's CPU time falls when one of its processes ends before its parent
// has reaped it (the time is neither in the child nor yet in the parent's
// cutime), and starts again from zero with every new main process.
type cpuTotals struct {
	mu sync.Mutex
	m  map[string]*cpuTotal
}

// cpuTotal is one program's counter.
type cpuTotal struct {
	pid   int     // main process the tree was last read for
	base  float64 // what the program's earlier main processes used
	total float64 // the value last exported; never decreases
	// retired are the last main processes before pid: a scrape that read
	// an older snapshot than one already counted must not start them anew.
	retired []int
}

// maxRetired bounds cpuTotal.retired; concurrent scrapes are few
// (promhttp's MaxRequestsInFlight).
const maxRetired = 4

// add records that program's tree under pid used tree seconds (valid
// false: it could not be read) and returns the counter's value; known is
// false while the program has never been read.
func (c *cpuTotals) add(program string, pid int, tree float64, valid bool) (v float64, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.m[program]
	if t != nil && (!valid || slices.Contains(t.retired, pid)) {
		return t.total, true
	}
	if !valid {
		return 0, false
	}
	if t == nil {
		t = &cpuTotal{pid: pid}
		c.m[program] = t
	}
	if t.pid != pid {
		// A new main process: what the old one used after the last scrape
		// is lost (phpinit reaped it, not the tree), the rest is kept.
		t.retired = append(t.retired, t.pid)
		if len(t.retired) > maxRetired {
			t.retired = t.retired[1:]
		}
		t.base, t.pid = t.total, pid
	}
	t.total = max(t.total, t.base+tree)
	return t.total, true
}
