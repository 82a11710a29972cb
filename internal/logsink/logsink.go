// Package logsink carries a supervised child's stdout and stderr to where the
// config sends them: phpinit's own stdout/stderr untouched ("inherit"), line by
// line with a program prefix ("prefix") or as JSON objects ("json"), or to a
// size-rotated file (an absolute path).
//
// In the piped modes the child writes into a pipe. A reader goroutine drains
// the pipe, cuts it into lines and queues them; a writer goroutine writes the
// queued lines to the destination. The queue is bounded: when the destination
// stalls (a full stdout pipe nobody reads), new lines are dropped and counted
// rather than letting the child block on a full pipe. Every line reaches the
// destination in one Write, under a lock shared by every sink writing there, so
// lines of nginx and php-fpm never interleave mid-line — the failure every
// pass-through init shows for lines longer than the 64 KiB pipe buffer.
package logsink

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// lineLimit is the longest line written whole; longer lines are cut
	// into pieces of this size (file sinks may have a smaller limit, see
	// openFile).
	lineLimit = 4 << 20
	// queueBytes and queueLines bound what a sink holds for a stalled
	// destination. A line is always admitted into an empty queue, so a
	// line up to lineLimit is never dropped for its size alone.
	queueBytes = 8 << 20
	queueLines = 64 << 10
	// dropLogEvery rate-limits the "dropped N lines" warning per sink.
	dropLogEvery = 10 * time.Second
)

// Hub owns the destinations sinks write to and the counters behind
// phpinit_log_lines_dropped_total. It is safe for concurrent use.
type Hub struct {
	// stdout and stderr are what inherit sinks hand to children.
	stdout, stderr *os.File
	// out and errs are the shared destinations of piped sinks.
	out, errs *dest
	logger    atomic.Pointer[slog.Logger]
	// now stamps JSON lines; logEvery rate-limits drop warnings;
	// partialQuiet is how long a line without newline waits for its rest;
	// hookWait how long hook output waits for room.
	// All are fields so tests can replace them.
	now          func() time.Time
	logEvery     time.Duration
	partialQuiet time.Duration
	hookWait     time.Duration

	// ownOut and ownErr carry phpinit's own log and the hooks' output.
	ownOut, ownErr *ownWriter

	mu     sync.Mutex
	files  map[string]*dest // by cleaned path; see openFile
	counts map[key]*counts
	// null is /dev/null, opened by the first discard sink and kept: every
	// discard sink hands it to its program.
	null *os.File
}

// NewHub returns a Hub whose inherit sinks pass stdout and stderr to children
// and whose prefix and json sinks write to them. logger receives drop and
// split warnings; nil discards them.
func NewHub(stdout, stderr *os.File, logger *slog.Logger) *Hub {
	h := newHub(stdout, stderr, stdout, stderr, logger)
	if sameFile(stdout, stderr) {
		// One pipe or terminal behind both (docker run -t, a shared pipe):
		// one lock, or a long stdout line could take a stderr line inside
		// it (a write(2) larger than PIPE_BUF is not atomic).
		h.errs = h.out
		h.ownErr.dst = h.out
	}
	return h
}

// newHub lets tests substitute writers that record each Write call.
func newHub(stdout, stderr *os.File, out, errs io.Writer, logger *slog.Logger) *Hub {
	h := &Hub{
		stdout:   stdout,
		stderr:   stderr,
		out:      &dest{w: out, limit: lineLimit},
		errs:     &dest{w: errs, limit: lineLimit},
		now:      time.Now,
		logEvery: dropLogEvery,
		files:    make(map[string]*dest),
		counts:   make(map[key]*counts),
	}
	h.partialQuiet, h.hookWait = partialQuiet, hookWait
	h.ownOut = h.newOwnWriter("stdout", h.out)
	h.ownErr = h.newOwnWriter("stderr", h.errs)
	h.SetLogger(logger)
	return h
}

// SetLogger sets where drop and split warnings go; nil discards them. It
// exists because phpinit's own logger writes through Stderr.
func (h *Hub) SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	h.logger.Store(l)
}

func (h *Hub) log() *slog.Logger { return h.logger.Load() }

// LogWriter is phpinit's own log's way to its stderr. It never blocks: each
// Write (one log record) is queued whole in a bounded queue and written by a
// goroutine under the same lock as the piped sinks, so a log line never
// lands inside a program's long line. When the destination stalls (a log
// driver that stopped reading), records are dropped and counted as program
// "phpinit", so the supervision loop never waits on its own log. Flush
// before exiting.
func (h *Hub) LogWriter() io.Writer { return h.ownErr }

// Stdout and Stderr are the hooks' writers to phpinit's stdout and stderr.
// They share LogWriter's queues (order is kept), but a Write into a full
// queue waits up to a second for room before it is dropped: hooks run
// before the loop exists, and a burst of their output should survive a
// slow destination.
func (h *Hub) Stdout() io.Writer { return waitingWriter{h.ownOut} }
func (h *Hub) Stderr() io.Writer { return waitingWriter{h.ownErr} }

// Spec says where one stream of one program goes.
type Spec struct {
	// Program names the program in prefixes, JSON and log messages.
	Program string
	// Stream is "stdout" or "stderr".
	Stream string
	// Mode is "inherit" (also ""), "prefix", "json", "discard" (the
	// program's stream is /dev/null: asked for, e.g. by supervisord's
	// stdout_logfile=NONE) or an absolute file path.
	Mode string
	// MaxSize rotates a file sink at this many bytes, rounded up to whole
	// MiB (lumberjack counts megabytes), at least 1 MiB; 0 means 10 MiB.
	MaxSize int64
	// Backups is how many rotated files a file sink keeps; 0 means 5.
	Backups int
	// UID is the program's user when it is not phpinit's (0: phpinit's). nginx
	// opens /dev/stdout and php-fpm /proc/self/fd/2 by path, which checks
	// the file's owner and mode: a pipe gets write permission for others;
	// a terminal or file that the user cannot open is relayed through a
	// pipe instead, lines unchanged.
	UID uint32
}

// Drop counts lines of one program's stream.
type Drop struct {
	Program, Stream string
	Lines           uint64
}

type key struct{ program, stream string }

// counts live in the Hub, not the Sink, so they survive a sink being closed
// and opened again (a reload) and stay monotonic for Prometheus.
type counts struct {
	dropped     atomic.Uint64
	split       atomic.Uint64
	splitLogged atomic.Bool
	drops       dropLog
}

// Open starts carrying one stream of one program. The returned Sink is meant
// to live as long as the program's config: hand Sink.File to every start of
// the program, and Close it when the program is removed or phpinit exits.
func (h *Hub) Open(s Spec) (*Sink, error) {
	var std *os.File
	var dst *dest
	switch s.Stream {
	case "stdout":
		std, dst = h.stdout, h.out
	case "stderr":
		std, dst = h.stderr, h.errs
	default:
		return nil, fmt.Errorf("cannot open %s log: stream %q is not stdout or stderr", s.Program, s.Stream)
	}
	var m mode
	switch s.Mode {
	case "", "inherit":
		if handOver(std, s.UID) {
			h.counter(s.Program, s.Stream)
			return &Sink{spec: s, file: std}, nil
		}
		m = modeFile // relay, lines as written
	case "discard":
		null, err := h.devNull()
		if err != nil {
			return nil, fmt.Errorf("cannot open %s %s log: %w", s.Program, s.Stream, err)
		}
		return &Sink{spec: s, file: null}, nil
	case "prefix":
		m = modePrefix
	case "json":
		m = modeJSON
	default:
		if !filepath.IsAbs(s.Mode) {
			return nil, fmt.Errorf("cannot open %s %s log: %q is not inherit, prefix, json, discard or an absolute path",
				s.Program, s.Stream, s.Mode)
		}
		m = modeFile
		var err error
		if dst, err = h.openFile(s); err != nil {
			return nil, err
		}
	}
	sink, err := h.startPipe(s, m, dst)
	if err != nil {
		if m == modeFile {
			h.release(dst)
		}
		return nil, err
	}
	return sink, nil
}

// devNull opens /dev/null for writing once, for every discard sink.
func (h *Hub) devNull() (*os.File, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.null == nil {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		h.null = f
	}
	return h.null, nil
}

// Dropped reports, for every program stream opened so far, how many lines were
// lost because the destination stalled or failed. Sorted by program, stream.
func (h *Hub) Dropped() []Drop {
	return h.report(func(c *counts) uint64 { return c.dropped.Load() })
}

// Split reports, for every program stream opened so far, how many times a
// line longer than the limit was cut. Sorted by program, stream.
func (h *Hub) Split() []Drop {
	return h.report(func(c *counts) uint64 { return c.split.Load() })
}

func (h *Hub) report(get func(*counts) uint64) []Drop {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Drop, 0, len(h.counts))
	for k, c := range h.counts {
		out = append(out, Drop{Program: k.program, Stream: k.stream, Lines: get(c)})
	}
	slices.SortFunc(out, func(a, b Drop) int {
		return cmp.Or(cmp.Compare(a.Program, b.Program), cmp.Compare(a.Stream, b.Stream))
	})
	return out
}

// counter returns the counters of a program stream, creating them on first use.
func (h *Hub) counter(program, stream string) *counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := key{program, stream}
	c := h.counts[k]
	if c == nil {
		c = new(counts)
		h.counts[k] = c
	}
	return c
}

// noteSplit counts a cut line and warns the first time a program stream needs
// one. The warning runs on its own goroutine: the logger may write to the
// very stderr that is stalled, and the reader must never block.
func (h *Hub) noteSplit(s Spec, c *counts, limit int) {
	c.split.Add(1)
	if c.splitLogged.CompareAndSwap(false, true) {
		go h.log().Warn(fmt.Sprintf("split a line longer than %d bytes from %s %s; further splits are only counted",
			limit, s.Program, s.Stream), "program", s.Program, "stream", s.Stream)
	}
}
