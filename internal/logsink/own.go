package logsink

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// OwnProgram is the program label of phpinit's own output (its log and
	// the hooks') in Dropped.
	OwnProgram = "phpinit"
	// ownQueueBytes and ownQueueLines bound phpinit's own output held for a
	// stalled destination: a few seconds of a busy debug log.
	ownQueueBytes = 1 << 20
	ownQueueLines = 4096
	// hookWait is how long hook output waits for room in a full queue
	// before it is dropped: a destination merely slower than a burst of
	// output loses nothing, one that stalls holds the hooks up once, this
	// long.
	hookWait = time.Second
)

// ownWriter queues what phpinit itself writes (one slog record, one hook
// line per Write) and writes it from its own goroutine.
type ownWriter struct {
	hub   *Hub
	dst   *dest
	spec  Spec
	queue *queue
	start sync.Once
	// mu serialises push: the queue's arena has one writer at a time.
	mu sync.Mutex
	// stalled: a waitingWriter gave up waiting; until the destination
	// takes a write again, hook output is dropped at once.
	stalled atomic.Bool
}

func (h *Hub) newOwnWriter(stream string, dst *dest) *ownWriter {
	return &ownWriter{
		hub:   h,
		dst:   dst,
		spec:  Spec{Program: OwnProgram, Stream: stream},
		queue: newQueue(ownQueueBytes, ownQueueLines),
	}
}

// Write queues p, or drops it when the queue is full. It never blocks on the
// destination and never fails: a logger has nowhere to report its own
// failures but here.
func (w *ownWriter) Write(p []byte) (int, error) {
	if !w.push(p) {
		w.drop(1, nil)
	}
	return len(p), nil
}

func (w *ownWriter) push(p []byte) bool {
	// The writer goroutine starts with the first line, so a Hub that
	// phpinit never logs through holds none.
	w.start.Do(func() { go w.run() })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queue.push(p, time.Time{}, false)
}

// waitingWriter is the hooks' way into an ownWriter: a full queue makes it
// wait up to hookWait for room before dropping, so that a burst of hook
// output (a package install) is not lost to a destination that is only slow.
type waitingWriter struct{ *ownWriter }

func (w waitingWriter) Write(p []byte) (int, error) {
	if w.push(p) {
		return len(p), nil
	}
	if !w.stalled.Load() {
		t := time.NewTimer(w.hub.hookWait)
		defer t.Stop()
	wait:
		for {
			select {
			case <-w.queue.room:
				if w.push(p) {
					return len(p), nil
				}
			case <-t.C:
				w.stalled.Store(true)
				break wait
			}
		}
	}
	w.drop(1, nil)
	return len(p), nil
}

// drop counts lost lines; the counter appears in Dropped with the first.
func (w *ownWriter) drop(n int, err error) {
	w.hub.noteDrop(w.spec, w.hub.counter(w.spec.Program, w.spec.Stream), n, err)
}

// run writes queued chunks as they were written (they carry their own
// newlines), batched into one Write when several are waiting.
func (w *ownWriter) run() {
	var chunks []entry
	buf := make([]byte, 0, batchBytes)
	for {
		var ok bool
		if chunks, ok = w.queue.take(chunks); !ok {
			return
		}
		n, size := 0, 0
		for _, e := range chunks {
			if n > 0 && len(buf)+len(e.line) > batchBytes {
				buf = w.flush(buf, n, size)
				n, size = 0, 0
			}
			buf = append(buf, e.line...)
			n++
			size += len(e.line)
		}
		buf = w.flush(buf, n, size)
		clear(chunks)
		chunks = chunks[:0]
	}
}

func (w *ownWriter) flush(buf []byte, n, size int) []byte {
	if n == 0 {
		return buf
	}
	w.dst.mu.Lock()
	_, err := w.dst.w.Write(buf)
	w.dst.mu.Unlock()
	w.queue.done(n, size)
	if err != nil {
		w.drop(n, err)
	} else {
		w.stalled.Store(false)
	}
	if cap(buf) > keepBuffer {
		return make([]byte, 0, batchBytes)
	}
	return buf[:0]
}

// Flush waits up to timeout until what phpinit wrote through Stdout and
// Stderr has reached the destination, and reports whether it has. Call it
// before exiting; with a stalled destination it gives up after timeout.
func (h *Hub) Flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	okOut := h.ownOut.queue.wait(timeout)
	okErr := h.ownErr.queue.wait(time.Until(deadline))
	return okOut && okErr
}
