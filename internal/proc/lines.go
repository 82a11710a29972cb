package proc

import (
	"bufio"
	"errors"
	"io"
)

const (
	// MaxLine bounds one line held in memory. A longer line (a binary blob,
	// a runaway printf) is written in MaxLine pieces, each ending in a
	// newline we add: split, never dropped.
	MaxLine = 16 << 20
	// readBuf is what one read takes from the pipe; lines longer than it
	// are assembled from several reads.
	readBuf = 64 << 10
)

// CopyLines writes each line of r to w with one Write, newline included; a
// last line without one gets one. Lines over max bytes are split. Write
// errors are ignored: the pipe must keep draining or the child blocks.
func CopyLines(w io.Writer, r io.Reader, max int) {
	br := bufio.NewReaderSize(r, readBuf)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...) // copy: chunk is bufio's buffer
		for len(line) > max && (len(line) > max+1 || line[max] != '\n') {
			_, _ = w.Write(append(line[:max:max], '\n'))
			line = append(line[:0], line[max:]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			_, _ = w.Write(line)
			line = line[:0]
		}
		if err != nil { // io.EOF, or the pipe closed under us
			return
		}
	}
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
