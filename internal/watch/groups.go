package watch

import (
	"path/filepath"
	"slices"
	"time"
)

// group is the loop's record of one named group of paths.
type group struct {
	name    string
	paths   []string
	scanner *scanner
	// limitErr is the limit the content is beyond, while it is; "" within.
	limitErr string
	// delivered is the content of the last Change delivered, or the baseline.
	delivered     manifest
	deliveredHash string
	pending       *pending // the change waiting for the consumer, if any
	timer         *time.Timer
	gen           uint64    // generation of timer, unique across groups
	armedAt       time.Time // start of the current burst of events; zero when quiet
}

type pending struct {
	change  Change
	content manifest
}

func (g *group) stop() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.armedAt = time.Time{}
}

// setGroups replaces the groups, keeping the record of every group whose paths
// are unchanged.
func (w *Watcher) setGroups(spec map[string][]string) {
	next := make(map[string]*group, len(spec))
	var fresh []*group
	for name, paths := range spec {
		paths = cleanPaths(paths)
		if g := w.groups[name]; g != nil && slices.Equal(g.paths, paths) {
			next[name] = g
			continue
		}
		g := &group{name: name, paths: paths, scanner: newScanner(w.opts.Limits)}
		next[name] = g
		fresh = append(fresh, g)
	}
	for name, g := range w.groups {
		if next[name] != g {
			g.stop()
			w.unqueue(g)
			delete(w.current, name)
		}
	}
	w.groups = next
	// Watch before taking the baseline: a change in between then shows up
	// as an event, and is reported if the baseline missed it.
	w.reconcile()
	for _, g := range fresh {
		g.delivered = w.scan(g)
		if g.delivered == nil {
			g.delivered = manifest{} // within the limits again, it is a change
		}
		g.deliveredHash = g.delivered.sum()
		w.current[g.name] = g.deliveredHash
	}
	w.publish()
}

func cleanPaths(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = filepath.Clean(p) // no working directory: keep the path as given
		}
		out[i] = abs
	}
	return out
}

// touch notes an event for a group and (re)arms its debounce timer.
func (w *Watcher) touch(name string) {
	g := w.groups[name]
	if g == nil {
		return
	}
	now := time.Now()
	if !g.armedAt.IsZero() && now.Sub(g.armedAt) >= maxWaitFactor*w.debounce {
		return // a burst that does not end: let the armed timer fire
	}
	if g.armedAt.IsZero() {
		g.armedAt = now
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	w.gen++
	g.gen = w.gen
	t := tick{group: name, gen: g.gen}
	g.timer = time.AfterFunc(w.debounce, func() {
		select {
		case w.fire <- t:
		case <-w.done:
		}
	})
}

// fired handles a debounce timer. A timer stopped too late to keep it from
// sending carries an old generation and is ignored.
func (w *Watcher) fired(t tick) {
	g := w.groups[t.group]
	if g == nil || g.timer == nil || g.gen != t.gen {
		return
	}
	g.timer = nil
	g.armedAt = time.Time{}
	// Directories created faster than their parents' watches were added
	// (mkdir -p) raised no event of their own: watch them now, before the
	// hash, so that whatever the hash misses raises an event.
	w.reconcile()
	w.check(g)
}

// check hashes a group's content and queues a Change when it differs from
// what was last delivered. It returns the hash.
func (w *Watcher) check(g *group) string {
	m := w.scan(g)
	if m == nil {
		return w.current[g.name] // beyond the limits: nothing to compare
	}
	h := m.sum()
	if w.current[g.name] != h {
		w.current[g.name] = h
		w.publish()
	}
	switch {
	case h == g.deliveredHash:
		w.unqueue(g) // back to what the consumer has: nothing to tell
	case g.pending != nil && g.pending.change.Hash == h:
	default:
		if g.pending == nil {
			w.queue = append(w.queue, g.name)
		}
		g.pending = &pending{
			change:  Change{Group: g.name, Paths: diff(g.delivered, m), Hash: h},
			content: m,
		}
	}
	return h
}

// delivered records that the change at the head of the queue was received.
func (w *Watcher) delivered() {
	g := w.groups[w.queue[0]]
	w.queue = w.queue[1:]
	g.delivered, g.deliveredHash = g.pending.content, g.pending.change.Hash
	g.pending = nil
}

func (w *Watcher) unqueue(g *group) {
	if g.pending == nil {
		return
	}
	g.pending = nil
	w.queue = slices.DeleteFunc(w.queue, func(name string) bool { return name == g.name })
}

// scan scans a group's content; beyond the limits it counts a watch error,
// logs it once until the content is within them again, and returns nil.
func (w *Watcher) scan(g *group) manifest {
	m, err := g.scanner.scan(g.paths)
	if err == nil {
		if g.limitErr != "" {
			w.log.Info("watched content within the limits again", "group", g.name)
			g.limitErr = ""
		}
		return m
	}
	w.errs.Add(1)
	if err.Error() != g.limitErr {
		g.limitErr = err.Error()
		w.log.Error("cannot watch: content beyond the limits; changes are not reported until it is within them",
			"group", g.name, "error", err)
	}
	return nil
}
