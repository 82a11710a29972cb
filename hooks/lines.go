package hooks

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

const (
	// maxLine bounds one line held in memory. A longer line (a binary blob,
	// a runaway printf) is written in maxLine pieces, each ending in a
	// newline we add: split, never dropped.
	maxLine = 16 << 20
	// readBuf is what one read takes from the pipe; lines longer than it
	// are assembled from several reads.
	readBuf = 64 << 10
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
func (s *lineSink) copyLines(w io.Writer, r io.Reader, max int) {
	br := bufio.NewReaderSize(r, readBuf)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...) // copy: chunk is bufio's buffer
		for len(line) > max && (len(line) > max+1 || line[max] != '\n') {
			s.write(w, append(line[:max:max], '\n'))
			line = append(line[:0], line[max:]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			s.write(w, line)
			line = line[:0]
		}
		if err != nil { // io.EOF, or the pipe closed under us
			return
		}
	}
}

func (s *lineSink) write(w io.Writer, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = w.Write(line)
}
