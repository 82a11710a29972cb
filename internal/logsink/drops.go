package logsink

import (
	"fmt"
	"sync"
	"time"
)

// dropLog batches the drop warnings of one program stream: at most one warning
// per Hub.logEvery, and every drop is in one eventually. Warnings are logged
// from a timer goroutine, never by a sink's reader or writer: phpinit's logger
// writes to stderr, which may be the very destination that stalled.
type dropLog struct {
	mu      sync.Mutex
	stalled uint64    // lines dropped for a full queue since the last warning
	failed  uint64    // lines lost to write errors since the last warning
	err     error     // the last write error
	last    time.Time // when the last warning was logged
	armed   bool      // a timer will log what has accumulated
}

// noteDrop counts n lost lines: dropped for a full queue when err is nil,
// else lost because writing them failed with err.
func (h *Hub) noteDrop(s Spec, c *counts, n int, err error) {
	c.dropped.Add(uint64(n))
	d := &c.drops
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.failed += uint64(n)
		d.err = err
	} else {
		d.stalled += uint64(n)
	}
	if !d.armed {
		d.armed = true
		time.AfterFunc(max(0, time.Until(d.last.Add(h.logEvery))), func() { h.logDrops(s, d) })
	}
}

// logDrops logs what accumulated, then re-arms itself if more came in while it
// logged (the logger may block on a stalled stderr). So a stalled logger
// holds at most one goroutine per program stream.
func (h *Hub) logDrops(s Spec, d *dropLog) {
	d.mu.Lock()
	stalled, failed, err := d.stalled, d.failed, d.err
	d.stalled, d.failed, d.err = 0, 0, nil
	d.mu.Unlock()

	logger := h.log().With("program", s.Program, "stream", s.Stream)
	if stalled > 0 {
		logger.Warn(fmt.Sprintf("dropped %d lines from %s %s: destination stalled", stalled, s.Program, s.Stream),
			"lines", stalled)
	}
	if failed > 0 {
		logger.Warn(fmt.Sprintf("dropped %d lines from %s %s: cannot write: %v", failed, s.Program, s.Stream, err),
			"lines", failed, "error", err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.last = time.Now()
	if d.stalled == 0 && d.failed == 0 {
		d.armed = false
		return
	}
	time.AfterFunc(h.logEvery, func() { h.logDrops(s, d) })
}
