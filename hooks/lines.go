package hooks

import (
	"io"
	"sync"
)

// lineSink holds the hooks' stdout and stderr writers behind one mutex.
// internal/proc writes each whole line with one Write; the mutex serialises
// both streams (they may share a writer that is not safe for concurrent
// use, and a daemon a hook left behind may still write while the next hook
// runs), so a line never interleaves with another (pass-through inits split
// lines longer than the 64 KiB pipe buffer; see FIELD-NOTES).
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
	s := &lineSink{}
	s.stdout, s.stderr = lockedWriter{s, stdout}, lockedWriter{s, stderr}
	return s
}

type lockedWriter struct {
	s *lineSink
	w io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	return l.w.Write(p)
}
