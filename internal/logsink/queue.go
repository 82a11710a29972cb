package logsink

import (
	"sync"
	"time"
)

// arenaSize is the block the reader copies lines into: one allocation per
// block instead of one per line.
const arenaSize = 64 << 10

type entry struct {
	at   time.Time // when the reader read it; the JSON "time"
	line []byte    // without its newline
	// partial marks a line that had no newline: flushed after a quiet time
	// or at EOF.
	partial bool
}

// queue hands lines from the reader to the writer. It is bounded by bytes and
// by lines; a line counts until it is written, not merely until the writer
// takes it, so a writer stuck in Write holds the queue full.
type queue struct {
	// arena is the reader's alone: entries point into it, and the reader
	// only ever appends past them.
	arena []byte

	// maxBytes and maxLines bound the queue.
	maxBytes, maxLines int

	mu      sync.Mutex
	lines   []entry
	bytes   int // bytes of queued and in-flight lines
	count   int // queued and in-flight lines
	closed  bool
	ready   chan struct{} // capacity 1: wakes the writer
	drained chan struct{} // capacity 1: wakes a flush when count reaches 0
	room    chan struct{} // capacity 1: wakes a pusher waiting for room
}

func newQueue(maxBytes, maxLines int) *queue {
	return &queue{
		maxBytes: maxBytes,
		maxLines: maxLines,
		ready:    make(chan struct{}, 1),
		drained:  make(chan struct{}, 1),
		room:     make(chan struct{}, 1),
	}
}

// push copies line into the queue, or reports false if the queue is full.
// Only one goroutine at a time may call it (the reader).
func (q *queue) push(line []byte, at time.Time, partial bool) bool {
	if cap(q.arena)-len(q.arena) < len(line) {
		q.arena = make([]byte, 0, max(arenaSize, len(line)))
	}
	start := len(q.arena)
	q.arena = append(q.arena, line...)
	stored := q.arena[start:len(q.arena):len(q.arena)]

	q.mu.Lock()
	full := q.count > 0 && (q.bytes+len(line) > q.maxBytes || q.count >= q.maxLines)
	if !full {
		q.lines = append(q.lines, entry{at: at, line: stored, partial: partial})
		q.bytes += len(line)
		q.count++
	}
	q.mu.Unlock()
	if full {
		q.arena = q.arena[:start] // nothing refers to the copy
		return false
	}
	q.wake()
	return true
}

// close tells the writer no more lines will come.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *queue) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take waits for lines and returns all queued ones, recycling spare (the
// slice a previous take returned) for the next lines. It reports false once
// the queue is closed and empty.
func (q *queue) take(spare []entry) ([]entry, bool) {
	for {
		q.mu.Lock()
		if len(q.lines) > 0 {
			got := q.lines
			q.lines = spare[:0]
			q.mu.Unlock()
			return got, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		<-q.ready
	}
}

// done frees the room of lines the writer has written (or given up on).
func (q *queue) done(lines, bytes int) {
	q.mu.Lock()
	q.count -= lines
	q.bytes -= bytes
	empty := q.count == 0
	q.mu.Unlock()
	select {
	case q.room <- struct{}{}:
	default:
	}
	if empty {
		select {
		case q.drained <- struct{}{}:
		default:
		}
	}
}

// wait waits until every line is written or until timeout, and reports
// whether the queue is empty.
func (q *queue) wait(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for q.pending() > 0 {
		select {
		case <-q.drained:
		case <-t.C:
			return q.pending() == 0
		}
	}
	return true
}

// backlogged reports whether the queue is half full: the writer is behind.
func (q *queue) backlogged() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count >= q.maxLines/2 || q.bytes >= q.maxBytes/2
}

// pending reports the lines queued or in flight.
func (q *queue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}
