package proc

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"
)

const (
	// MaxLine bounds one line held in memory. A longer line (a binary blob,
	// a runaway printf) is written in MaxLine pieces, each ending in a
	// newline we add: split, never dropped.
	MaxLine = 16 << 20
	// readBuf is what one read takes from the pipe; lines longer than it
	// are assembled from several reads.
	readBuf = 64 << 10
	// PartialQuiet is how long a line without its newline waits for the rest.
	PartialQuiet = 200 * time.Millisecond
)

// CopyLines writes each line of r to w with one Write, newline included; a
// last line without one gets one. Lines over max bytes are split. Write
// errors are ignored: the pipe must keep draining or the child blocks.
//
// A line without its newline ("waiting for the database...") is written,
// ended with one, after PartialQuiet without more output when r is a pipe
// (*os.File supports read deadlines): it shows while the child waits, and
// what comes next is a line of its own.
func CopyLines(w io.Writer, r io.Reader, max int) { copyLines(w, r, max, nil) }

// copyLines is CopyLines that also ends, after writing what it holds, at a
// read deadline once ended reports true: the way a capture is cut short
// after its linger while a descendant still holds the pipe.
func copyLines(w io.Writer, r io.Reader, max int, ended *atomic.Bool) {
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
			line = splitLine(w, line, max+1)
			_, _ = w.Write(line)
			line = line[:0]
		}
		line = splitLine(w, line, max)
		if f != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			if len(line) > 0 {
				_, _ = w.Write(append(line, '\n'))
				line = line[:0]
			}
			if ended != nil && ended.Load() {
				return
			}
			_ = f.SetReadDeadline(time.Time{})
			armed = false
			continue
		}
		if err != nil { // io.EOF, or the pipe closed under us
			if len(line) > 0 {
				_, _ = w.Write(append(line, '\n'))
			}
			return
		}
		switch {
		case f != nil && len(line) > 0 && n > 0:
			_ = f.SetReadDeadline(time.Now().Add(PartialQuiet))
			armed = true
		case f != nil && len(line) == 0 && armed:
			_ = f.SetReadDeadline(time.Time{})
			armed = false
		}
	}
}

// splitLine writes max-byte pieces of line, each with a newline added,
// while line is longer than limit, and returns the rest.
func splitLine(w io.Writer, line []byte, limit int) []byte {
	max := limit
	if len(line) > 0 && line[len(line)-1] == '\n' {
		max = limit - 1
	}
	for len(line) > limit {
		_, _ = w.Write(append(line[:max:max], '\n'))
		line = append(line[:0], line[max:]...)
	}
	return line
}

// capWriter keeps the first n bytes and discards the rest, still accepting
// every write so the child never blocks on a full pipe.
type capWriter struct {
	buf       []byte
	n         int
	truncated bool
}

func (c *capWriter) Write(p []byte) (int, error) {
	room := max(c.n-len(c.buf), 0)
	if len(p) > room {
		c.truncated = true
		c.buf = append(c.buf, p[:room]...)
	} else {
		c.buf = append(c.buf, p...)
	}
	return len(p), nil
}
