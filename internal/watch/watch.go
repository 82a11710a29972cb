// Package watch tells the supervisor when the content of mounted configuration
// changes: bind mounts edited in place or by editors that save by rename, and
// Kubernetes ConfigMap volumes updated by a ..data symlink swap.
//
// It watches directories with inotify, debounces bursts of events per group,
// and notifies only when the hash of the content differs from the last one
// delivered, so touch, chmod and identical rewrites cause no reload. Polling
// covers mounts that deliver no events (NFS, SMB, FUSE, Docker Desktop) and
// takes over when inotify fails.
package watch

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	defaultDebounce = 500 * time.Millisecond
	// defaultFallbackPoll is the polling interval once inotify has failed.
	defaultFallbackPoll = 2 * time.Second
	// maxWaitFactor bounds the debounce: a directory written to without
	// pause (a log file in a config dir) is checked at least every
	// maxWaitFactor debounce periods instead of never.
	maxWaitFactor = 10
	// drainMax is how many queued events are routed before one reconcile.
	drainMax = 256
)

var (
	errClosed       = errors.New("watcher closed")
	errUnknownGroup = errors.New("unknown group")
)

// Options tune a Watcher.
type Options struct {
	// Debounce is how long a group must stay free of events before its content
	// is hashed and compared. Zero means 500ms.
	Debounce time.Duration
	// PollInterval, when positive, also rehashes every group at this interval,
	// for mounts whose changes inotify never reports. Zero means events only,
	// with polling every 2s once inotify has failed.
	PollInterval time.Duration
	// Limits bound what each group's scan looks at (files, bytes); beyond
	// them a group reports no change, and the failure is counted in Errors
	// and logged. Zero values mean the defaults.
	Limits Limits
	// Logger receives watcher failures. Nil discards them.
	Logger *slog.Logger

	noInotify    bool          // tests: run as if inotify were unavailable, without counting a failure
	fallbackPoll time.Duration // tests: polling interval after a failure; zero means 2s
	failAdd      error         // tests: every inotify watch fails with this error
}

// Change reports that the content of a group differs from what was last
// delivered for it.
type Change struct {
	// Group is the name given to New or SetGroups.
	Group string
	// Paths lists the files added, removed or modified since the last Change
	// delivered for the group, sorted; visible names, not Kubernetes' ..data.
	Paths []string
	// Hash is the hex SHA-256 of the group's content now.
	Hash string
}

// tick is a debounce timer firing; gen tells a stale timer from the latest.
type tick struct {
	group string
	gen   uint64
}

// Watcher watches named groups of paths. One goroutine owns all its state;
// the exported methods talk to it through channels.
type Watcher struct {
	opts      Options
	log       *slog.Logger
	debounce  time.Duration
	fsw       *fsnotify.Watcher // nil when inotify is unavailable
	changes   chan Change
	fire      chan tick
	reqs      chan func()
	done      chan struct{} // closed by Close
	stopped   chan struct{} // closed when the loop has exited
	closeOnce sync.Once
	closeErr  error
	errs      atomic.Uint64
	hashes    atomic.Pointer[map[string]string] // what Hash reads

	// Owned by the loop goroutine (and by New before it starts).
	groups  map[string]*group
	current map[string]string    // latest computed hash per group
	watches map[string]*dirWatch // inotify watches in place, by path
	queue   []string             // groups with a pending change, oldest first
	gen     uint64
	ticker  *time.Ticker
}

// New starts watching groups, each a list of files or directories. Paths that
// do not exist yet are fine: they are watched once they appear. The content
// present now is the baseline: only later changes are reported. New does not
// fail today: when inotify cannot start or a watch cannot be added, it counts
// and logs the failure and polls instead.
func New(groups map[string][]string, o Options) (*Watcher, error) {
	w := &Watcher{
		opts:     o,
		log:      o.Logger,
		debounce: o.Debounce,
		changes:  make(chan Change),
		fire:     make(chan tick),
		reqs:     make(chan func()),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		groups:   map[string]*group{},
		current:  map[string]string{},
		watches:  map[string]*dirWatch{},
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.debounce <= 0 {
		w.debounce = defaultDebounce
	}
	if o.PollInterval > 0 {
		w.ticker = time.NewTicker(o.PollInterval)
	}
	if !o.noInotify {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			// EMFILE here is inotify's max_user_instances.
			w.fail("cannot start file watcher", err)
		}
		w.fsw = fsw
	}
	w.setGroups(groups)
	go w.loop()
	return w, nil
}

// Changes delivers one Change per group whose content changed. A consumer
// slower than the changes gets the latest one per group, never a stale one,
// and a group whose content went back to what was delivered gets none. The
// channel is closed by Close.
func (w *Watcher) Changes() <-chan Change { return w.changes }

// SetGroups replaces the watched groups. A group whose paths are unchanged
// keeps its hash and any pending change; a new or modified group takes its
// present content as its baseline and is not reported until it changes.
func (w *Watcher) SetGroups(groups map[string][]string) {
	_ = w.call(func() { w.setGroups(groups) }) // after Close there is nothing to set
}

// Hash returns the latest hash computed for group's content, or "" for an
// unknown group.
func (w *Watcher) Hash(group string) string {
	return (*w.hashes.Load())[group]
}

// Rehash hashes group's content now, queues a Change if it differs from the
// last one delivered, and returns the hash.
func (w *Watcher) Rehash(group string) (string, error) {
	var (
		hash string
		err  error
	)
	if cerr := w.call(func() {
		g := w.groups[group]
		if g == nil {
			err = fmt.Errorf("cannot rehash group %q: %w", group, errUnknownGroup)
			return
		}
		hash = w.check(g)
	}); cerr != nil {
		return "", fmt.Errorf("cannot rehash group %q: %w", group, cerr)
	}
	return hash, err
}

// Errors counts the failures of the file watcher: inotify that cannot start,
// directories that cannot be watched (ENOSPC: max_user_watches), errors and
// queue overflows reported by inotify, and scans beyond Options.Limits.
func (w *Watcher) Errors() uint64 { return w.errs.Load() }

// closeWait bounds how long Close waits for a scan in progress: a stop must
// not wait on a read that hangs (a dead NFS server).
const closeWait = time.Second

// Close stops watching, waits (at most a second) for the watcher's goroutine
// to exit and closes the Changes channel. A watcher still busy after that is
// left to exit on its own, and Close says so.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() { close(w.done) })
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-w.stopped:
		return w.closeErr
	case <-t.C:
		return fmt.Errorf("cannot close file watcher: still scanning after %s", closeWait)
	}
}

// call runs f on the loop goroutine and waits for it.
func (w *Watcher) call(f func()) error {
	ran := make(chan struct{})
	select {
	case w.reqs <- func() { f(); close(ran) }:
	case <-w.stopped:
		return errClosed
	}
	<-ran
	return nil
}

func (w *Watcher) loop() {
	defer w.shutdown()
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	for {
		var (
			out   chan<- Change
			next  Change
			pollC <-chan time.Time
		)
		if len(w.queue) > 0 {
			out, next = w.changes, w.groups[w.queue[0]].pending.change
		}
		if w.ticker != nil {
			pollC = w.ticker.C
		}
		select {
		case <-w.done:
			return
		case out <- next:
			w.delivered()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.handleEvents(ev, events)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.watcherError(err)
		case t := <-w.fire:
			w.fired(t)
		case <-pollC:
			for _, g := range w.groups {
				w.check(g)
			}
		case f := <-w.reqs:
			f()
		}
	}
}

// handleEvents routes first and whatever else is already queued, then
// reconciles the watches once for the lot.
func (w *Watcher) handleEvents(first fsnotify.Event, events <-chan fsnotify.Event) {
	structural := w.route(first)
drain:
	for range drainMax {
		select {
		case ev, ok := <-events:
			if !ok {
				break drain
			}
			structural = w.route(ev) || structural
		default:
			break drain
		}
	}
	if structural {
		w.reconcile()
	}
}

func (w *Watcher) watcherError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		// The kernel dropped events (max_queued_events): rescan everything.
		w.errs.Add(1)
		w.log.Warn("file watcher lost events, rescanning", "error", err)
		for name := range w.groups {
			w.touch(name)
		}
		w.reconcile()
		return
	}
	w.fail("file watcher failed", err)
}

// fail counts and logs a watcher failure and, unless polling already runs,
// falls back to polling: a failed watch would otherwise miss changes silently.
func (w *Watcher) fail(msg string, err error, args ...any) {
	w.errs.Add(1)
	w.log.Warn(msg, append(args, "error", err)...)
	if w.ticker != nil {
		return
	}
	every := w.opts.fallbackPoll
	if every <= 0 {
		every = defaultFallbackPoll
	}
	w.log.Warn("polling for configuration changes", "interval", every)
	w.ticker = time.NewTicker(every)
}

func (w *Watcher) shutdown() {
	for _, g := range w.groups {
		g.stop()
	}
	if w.ticker != nil {
		w.ticker.Stop()
	}
	if w.fsw != nil {
		if err := w.fsw.Close(); err != nil {
			w.closeErr = fmt.Errorf("cannot close file watcher: %w", err)
		}
	}
	close(w.changes)
	close(w.stopped)
}

// publish makes the current hashes visible to Hash.
func (w *Watcher) publish() {
	snapshot := maps.Clone(w.current)
	w.hashes.Store(&snapshot)
}
