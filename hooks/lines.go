package hooks

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

const (
	// maxLine bounds one line held in memory. A longer line (a binary blob,
	// a runaway printf) is written in maxLine pieces, each ending in a
	// newline we add: split, never dropped.
	maxLine = 16 << 20
	// readBuf is what one read takes from the pipe; lines longer than it
	// are assembled from several reads.
	readBuf = 64 << 10
	// partialQuiet is how long a line without its newline waits for the rest.
	partialQuiet = 200 * time.Millisecond
)

// lineSink writes whole lines to the hooks' stdout and stderr writers. One
// mutex serialises both streams, since they may share a writer that is not
// safe for concurrent use, and each line is one Write so a line never
// interleaves with another (pass-through inits split lines longer than the
// 64 KiB pipe buffer; see FIELD-NOTES).
type lineSink struct {
	mu             sync.Mutex
	stdout, stderr io.Writer
}

func newLineSink(stdout, stderr io.Writer) *lineSink {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	return &lineSink{stdout: stdout, stderr: stderr}
}

// forward copies both pipes line by line until EOF, closing them, and
// returns a channel closed when both are done.
func (s *lineSink) forward(stdout, stderr io.ReadCloser) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range []struct {
		r io.ReadCloser
		w io.Writer
	}{{stdout, s.stdout}, {stderr, s.stderr}} {
		wg.Go(func() {
			defer p.r.Close()
			s.copyLines(p.w, p.r, maxLine)
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// copyLines writes each line of r to w with one Write, newline included; a
// last line without one gets one. Lines over max bytes are split. Write
// errors are ignored: the pipe must keep draining or the hook blocks.
//
// A line without its newline ("waiting for the database...") is written,
// ended with one, after partialQuiet without more output, when r is a pipe
// (*os.File: read deadlines): it shows while the hook waits, and what comes
// next is a line of its own.
func (s *lineSink) copyLines(w io.Writer, r io.Reader, max int) {
	f, _ := r.(*os.File)
	buf := make([]byte, readBuf)
	var line []byte
	armed := false
	for {
		n, err := r.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				line = append(line, data...)
				break
			}
			line = append(line, data[:i+1]...)
			data = data[i+1:]
			line = s.split(w, line, max+1)
			s.write(w, line)
			line = line[:0]
		}
		line = s.split(w, line, max)
		if f != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			if len(line) > 0 {
				s.write(w, append(line, '\n'))
				line = line[:0]
			}
			_ = f.SetReadDeadline(time.Time{})
			armed = false
			continue
		}
		if err != nil { // io.EOF, or the pipe closed under us
			if len(line) > 0 {
				s.write(w, append(line, '\n'))
			}
			return
		}
		switch {
		case f != nil && len(line) > 0 && n > 0:
			_ = f.SetReadDeadline(time.Now().Add(partialQuiet))
			armed = true
		case f != nil && len(line) == 0 && armed:
			_ = f.SetReadDeadline(time.Time{})
			armed = false
		}
	}
}

// split writes max-byte pieces of line, each with a newline added, while
// line is longer than limit, and returns the rest.
func (s *lineSink) split(w io.Writer, line []byte, limit int) []byte {
	max := limit
	if len(line) > 0 && line[len(line)-1] == '\n' {
		max = limit - 1
	}
	for len(line) > limit {
		s.write(w, append(line[:max:max], '\n'))
		line = append(line[:0], line[max:]...)
	}
	return line
}

func (s *lineSink) write(w io.Writer, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = w.Write(line)
}
