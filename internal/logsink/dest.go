package logsink

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"gopkg.in/natefinch/lumberjack.v2"
)

const (
	defaultMaxSize = 10 << 20
	defaultBackups = 5
	mib            = 1 << 20
)

// dest is a destination shared by every sink that writes there. Its mutex
// makes each Write whole with respect to the other sinks: os.File.Write loops
// over short writes, so without the lock two sinks' lines could interleave
// whenever a line is longer than what one write(2) to a pipe takes.
type dest struct {
	mu sync.Mutex
	w  io.Writer
	// limit is the longest line written whole.
	limit int

	// File destinations only; guarded by Hub.mu.
	path    string
	file    *lumberjack.Logger
	refs    int
	maxSize int64
	backups int
}

// openFile returns the file destination for s.Mode, shared with any sink
// already writing to the same path (stdout and stderr to one file), so one
// lumberjack.Logger alone rotates it.
func (h *Hub) openFile(s Spec) (*dest, error) {
	if s.MaxSize < 0 || s.Backups < 0 {
		return nil, fmt.Errorf("cannot open %s %s log %s: max size %d and backups %d must not be negative",
			s.Program, s.Stream, s.Mode, s.MaxSize, s.Backups)
	}
	size, backups := s.MaxSize, s.Backups
	if size == 0 {
		size = defaultMaxSize
	}
	if backups == 0 {
		backups = defaultBackups
	}
	path := filepath.Clean(s.Mode)

	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.files[path]; d != nil {
		if d.maxSize != size || d.backups != backups {
			return nil, fmt.Errorf("cannot open %s %s log %s: already open with max size %d and %d backups, not %d and %d",
				s.Program, s.Stream, path, d.maxSize, d.backups, size, backups)
		}
		d.refs++
		return d, nil
	}
	mb := megabytes(size)
	lj := &lumberjack.Logger{Filename: path, MaxSize: mb, MaxBackups: backups}
	// An empty write opens (or creates) the file now, so a bad path fails
	// Open rather than the first line.
	if _, err := lj.Write(nil); err != nil {
		return nil, fmt.Errorf("cannot open %s %s log: %w", s.Program, s.Stream, err)
	}
	d := &dest{
		w:    lj,
		path: path,
		file: lj,
		refs: 1,
		// lumberjack refuses a Write longer than the file may grow; keep
		// every line plus its newline under that.
		limit:   min(lineLimit, mb*mib-1),
		maxSize: size,
		backups: backups,
	}
	h.files[path] = d
	return d, nil
}

// megabytes converts a byte size to lumberjack's unit, MiB, rounding up so a
// file never rotates before it reaches the configured size, and at least 1,
// because lumberjack reads 0 as 100 MiB.
func megabytes(size int64) int {
	return int(max(1, (size+mib-1)/mib))
}

// release drops a sink's hold on a file destination and closes the file when
// no sink writes to it any more.
func (h *Hub) release(d *dest) {
	if d.file == nil {
		return
	}
	h.mu.Lock()
	d.refs--
	last := d.refs == 0
	if last {
		delete(h.files, d.path)
	}
	h.mu.Unlock()
	if !last {
		return
	}
	// Closing stops only the file: lumberjack's cleanup goroutine, started
	// by the first write, has no way to stop (lumberjack v2.2.1).
	if err := d.file.Close(); err != nil {
		h.log().Warn("cannot close log file", "path", d.path, "error", err)
	}
}
