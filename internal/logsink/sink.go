package logsink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

const (
	// readSize matches the default pipe capacity (pipe(7)): one read can
	// empty a full pipe.
	readSize = 64 << 10
	// batchBytes is how much the writer gathers, in whole lines, into one
	// Write; a single longer line is written alone.
	batchBytes = 64 << 10
	// partialQuiet is how long a line without its newline waits for the
	// rest before it is written as it is (marked partial).
	partialQuiet = 200 * time.Millisecond
	// keepBuffer is the largest carry or batch buffer kept for reuse after a
	// long line; a larger one is left to the garbage collector.
	keepBuffer = 1 << 20
)

// Sink carries one stream of one program. For inherit it is only a name for
// phpinit's own stdout or stderr.
type Sink struct {
	spec Spec
	// file is what the child gets as fd 1 or 2. Piped: the write end, which
	// phpinit keeps open across restarts so the reader never sees EOF
	// between them.
	file *os.File

	// Piped sinks only.
	hub       *Hub
	dst       *dest
	counts    *counts
	format    *format
	stripCR   bool
	queue     *queue
	closeOnce sync.Once
	closeErr  error
	eof       chan struct{} // closed when the reader has seen EOF
	done      chan struct{} // closed when the writer has written every line
}

// startPipe makes the pipe and starts the reader and writer goroutines.
func (h *Hub) startPipe(s Spec, m mode, dst *dest) (*Sink, error) {
	// os.Pipe makes both ends close-on-exec (pipe2 with O_CLOEXEC): no child
	// inherits them by accident, and a child that did would hold the pipe
	// open and keep Close waiting. The child still gets the write end:
	// syscall.ForkExec dup3s each ProcAttr.Files entry onto its slot without
	// O_CLOEXEC, and clears the flag with fcntl when the fd is already in
	// its slot (syscall/exec_linux.go, forkAndExecInChild1, "Pass 2").
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("cannot open %s %s log: %w", s.Program, s.Stream, err)
	}
	// os.Pipe puts both ends in non-blocking mode for the poller, and
	// O_NONBLOCK lives in the open file description the child shares: a
	// child would see EAGAIN on a full pipe. Fd switches the write end back
	// to blocking, as a child expects; the read end stays with the poller.
	w.Fd()
	if err := OpenableBy(w, s.UID); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}

	sink := &Sink{
		spec:    s,
		file:    w,
		hub:     h,
		dst:     dst,
		counts:  h.counter(s.Program, s.Stream),
		format:  newFormat(m, s),
		stripCR: m != modeFile,
		queue:   newQueue(queueBytes, queueLines),
		eof:     make(chan struct{}),
		done:    make(chan struct{}),
	}
	go sink.read(r)
	go sink.write()
	return sink, nil
}

// File returns the file the child gets as its stdout or stderr: for inherit
// phpinit's own, else the write end of the sink's pipe. Hand the same file to
// every start of the program; it stays open until Close.
func (s *Sink) File() *os.File { return s.file }

// Close closes phpinit's write end and waits up to timeout until the reader
// has seen EOF (every child and orphan holding the pipe has exited or closed
// it) and every queued line is written. On timeout the sink goes on draining
// in the background and Close may be called again to wait more. A timeout of
// zero or less does not wait. Closing an inherit sink does nothing.
func (s *Sink) Close(timeout time.Duration) error {
	if s.queue == nil {
		return nil
	}
	s.closeOnce.Do(func() { s.closeErr = s.file.Close() })
	if s.closeErr != nil {
		return fmt.Errorf("cannot close %s %s log: %w", s.spec.Program, s.spec.Stream, s.closeErr)
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-t.C:
	}
	select {
	case <-s.eof:
		return fmt.Errorf("cannot close %s %s log: %d lines still unwritten after %s: %w: destination stalled",
			s.spec.Program, s.spec.Stream, s.queue.pending(), timeout, os.ErrDeadlineExceeded)
	default:
		return fmt.Errorf("cannot close %s %s log: pipe still open after %s: %w: a process still holds it",
			s.spec.Program, s.spec.Stream, timeout, os.ErrDeadlineExceeded)
	}
}

// read drains the pipe into the queue until EOF. It never waits for the
// writer, so the child never waits for the destination.
//
// A line without its newline is held for at most partialQuiet of silence,
// then written on its own, marked partial: a prompt or progress output
// ("Loading...") shows up, and what the next process on the pipe writes
// (the next start, another worker) never ends up glued to it.
func (s *Sink) read(r *os.File) {
	defer close(s.eof)
	defer s.queue.close()
	defer r.Close()
	buf := make([]byte, readSize)
	var carry []byte // the start of a line not yet ended
	var carryAt time.Time
	armed := false // a read deadline is set for the carry
	for {
		n, err := r.Read(buf)
		now := s.hub.now()
		if len(carry) == 0 && n > 0 {
			carryAt = now
		}
		carry = s.scan(carry, buf[:n], now)
		if s.queue.backlogged() {
			// The writer was woken but may wait for this P until the
			// reader blocks, which it does not while the child floods
			// the pipe; sysmon preempts only after 10ms. Yielding is
			// not waiting: the reader is runnable again at once.
			runtime.Gosched()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if len(carry) > 0 {
				s.emit(carry, true, true, carryAt)
				carry = carry[:0]
			}
			err = nil
			armed = false
			r.SetReadDeadline(time.Time{})
		}
		if err != nil {
			// EOF, or a read error no retry would cure; both end the
			// stream, and the last line needs no newline to be one.
			if len(carry) > 0 {
				s.emit(carry, true, true, carryAt)
			}
			return
		}
		switch {
		case len(carry) > 0 && n > 0:
			// Quiet time counts from the last read. A pipe from
			// os.Pipe is in the poller, so deadlines work on it.
			r.SetReadDeadline(time.Now().Add(s.hub.partialQuiet))
			armed = true
		case len(carry) == 0 && armed:
			r.SetReadDeadline(time.Time{})
			armed = false
		}
	}
}

// scan feeds every line in data and returns the unfinished rest appended to
// carry.
func (s *Sink) scan(carry, data []byte, now time.Time) []byte {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return s.feed(carry, data, false, now)
		}
		carry = s.feed(carry, data[:i], true, now)
		data = data[i+1:]
	}
}

// feed adds seg to the line begun in carry, queueing the line when end is set
// and cutting it at the limit on the way. It returns the new carry.
func (s *Sink) feed(carry, seg []byte, end bool, now time.Time) []byte {
	limit := s.dst.limit
	for len(carry)+len(seg) > limit {
		n := limit - len(carry)
		carry = append(carry, seg[:n]...)
		seg = seg[n:]
		s.emit(carry, false, false, now)
		carry = carry[:0]
		s.hub.noteSplit(s.spec, s.counts, limit)
	}
	if !end {
		return append(carry, seg...)
	}
	if len(carry) == 0 {
		s.emit(seg, true, false, now) // the common case: no copy into carry
		return carry
	}
	s.emit(append(carry, seg...), true, false, now)
	if cap(carry) > keepBuffer {
		return nil
	}
	return carry[:0]
}

// emit queues one line, or counts it dropped if the queue is full. end says
// the line really ended there rather than being cut at the limit; partial
// that it ended without a newline.
func (s *Sink) emit(line []byte, end, partial bool, now time.Time) {
	if end && s.stripCR && len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if !s.queue.push(line, now, partial) {
		s.hub.noteDrop(s.spec, s.counts, 1, nil)
	}
}

// write writes queued lines to the destination until the reader is done and
// the queue is empty, then lets go of the destination.
func (s *Sink) write() {
	defer close(s.done)
	defer s.hub.release(s.dst)
	var lines []entry
	buf := make([]byte, 0, batchBytes)
	for {
		var ok bool
		if lines, ok = s.queue.take(lines); !ok {
			return
		}
		n, size := 0, 0
		for _, e := range lines {
			if n > 0 && len(buf)+len(e.line)+s.format.overhead() > batchBytes {
				buf = s.flush(buf, n, size)
				n, size = 0, 0
			}
			buf = s.format.append(buf, e)
			n++
			size += len(e.line)
		}
		buf = s.flush(buf, n, size)
		clear(lines) // let written arenas go
		lines = lines[:0]
	}
}

// flush writes a batch of n whole lines (size bytes before formatting) in one
// Write and returns the emptied buffer.
func (s *Sink) flush(buf []byte, n, size int) []byte {
	if n == 0 {
		return buf
	}
	s.dst.mu.Lock()
	_, err := s.dst.w.Write(buf)
	s.dst.mu.Unlock()
	s.queue.done(n, size)
	if err != nil {
		s.hub.noteDrop(s.spec, s.counts, n, err)
	}
	if cap(buf) > keepBuffer {
		return make([]byte, 0, batchBytes)
	}
	return buf[:0]
}
