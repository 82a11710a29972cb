package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/watch"
	"github.com/phpinit/phpinit/supervisor"
)

// Where a reload request came from (the `from` log key).
const (
	FromSignal  = "signal"  // SIGHUP
	FromControl = "control" // phpinit ctl reload
	FromHTTP    = "http"    // POST /-/reload
	FromWatch   = "watch"   // a watched file changed
)

// ReloadError is a reload that failed, whoever asked for it. Its message is
// the cause's; Unwrap keeps supervisor.ErrUnknownProgram and ErrNotRunning
// visible to the one mapping to replies, control.Reply.
type ReloadError struct {
	From    string
	Program string // "" for everything
	Err     error
}

func (e *ReloadError) Error() string { return e.Err.Error() }
func (e *ReloadError) Unwrap() error { return e.Err }

// Reload is the one place reloads happen. program "" or "all" re-reads
// phpinit.yaml (applying what changed) and then checks and reloads every
// program with a reload signal, on manage, one full reload at a time;
// a program name checks and reloads that program only.
func (a *App) Reload(ctx context.Context, from, program string) error {
	var err error
	if program == "" || program == "all" {
		program = ""
		err = a.askFullReload(ctx)
	} else {
		err = a.sup.Reload(ctx, program)
	}
	if err == nil {
		return nil
	}
	if from == FromSignal || from == FromWatch {
		// Nobody waits for the answer; the supervisor records each
		// program's outcome (ctl status, metrics) and logs failures.
		a.log.Debug("reload", "from", from, "program", program, "err", err)
	}
	return &ReloadError{From: from, Program: program, Err: err}
}

// reloadQueue coalesces whole-config reload requests: while one runs, any
// number of further requests wait for exactly one more, which starts after
// they were made (so it sees every change made before they asked). 200
// SIGHUPs in a burst are two reloads, not 200.
type reloadQueue struct {
	mu sync.Mutex
	// next collects the requests for the reload after the current one.
	next *reloadBatch
	wake chan struct{} // capacity 1: "next is not empty"
}

type reloadBatch struct {
	// programs: also check and reload every program (SIGHUP, ctl reload,
	// POST /-/reload); else only phpinit.yaml is re-read (its change).
	programs bool
	replies  []chan error
}

func newReloadQueue() *reloadQueue { return &reloadQueue{wake: make(chan struct{}, 1)} }

// add queues a request; reply (may be nil) gets the outcome. It never
// blocks: SIGHUP calls it on the supervisor's loop.
func (q *reloadQueue) add(programs bool, reply chan error) {
	q.mu.Lock()
	if q.next == nil {
		q.next = &reloadBatch{}
	}
	q.next.programs = q.next.programs || programs
	if reply != nil {
		q.next.replies = append(q.next.replies, reply)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the queued requests, or nil.
func (q *reloadQueue) take() *reloadBatch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.next
	q.next = nil
	return b
}

// manage applies watched changes and full reloads, one at a time.
func (a *App) manage(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-a.watcher.Changes():
			if !ok {
				return
			}
			a.changed(ctx, ch)
		case <-a.reloads.wake:
			b := a.reloads.take()
			if b == nil {
				continue
			}
			var err error
			if b.programs {
				err = a.fullReload(ctx)
			} else {
				err = a.reloadConfig(ctx)
			}
			for _, r := range b.replies {
				r <- err
			}
		}
	}
}

func (a *App) changed(ctx context.Context, ch watch.Change) {
	if ch.Group == configGroup {
		a.log.Info("config file changed", "file", a.cfg.File, "paths", strings.Join(ch.Paths, ","))
		a.reloads.add(false, nil)
		return
	}
	a.log.Info("watched files changed", "program", ch.Group, "paths", strings.Join(ch.Paths, ","))
	// Not on manage: a check may take a while. The supervisor coalesces
	// a program's reloads.
	go func() { _ = a.Reload(ctx, FromWatch, ch.Group) }()
}

// askFullReload queues a full reload and waits for the outcome of one that
// starts after this call.
func (a *App) askFullReload(ctx context.Context) error {
	reply := make(chan error, 1)
	a.reloads.add(true, reply)
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fullReload is a reload of everything, as if every watched path changed.
func (a *App) fullReload(ctx context.Context) error {
	var errs []error
	if a.cfg.File != "" {
		if err := a.reloadConfig(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := a.sup.Reload(ctx, "all"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reloadConfig re-reads phpinit.yaml; an invalid one changes nothing.
func (a *App) reloadConfig(ctx context.Context) error {
	cfg, err := config.Load(config.Options{Path: a.cfg.File, Environ: a.environ, RequirePrograms: true})
	if err == nil {
		var specs []supervisor.ProgramSpec
		var hu *heldUpdate
		if specs, err = buildSpecs(cfg, a.env); err == nil {
			hu, err = a.held.prepare(cfg)
		}
		if err == nil {
			hu.attach(specs)
			var res supervisor.UpdateResult
			if res, err = a.sup.Update(ctx, specs); err != nil {
				hu.abort()
			} else {
				hu.commit()
				a.countConfigReload("ok")
				a.log.Info("config reloaded", "added", res.Added, "removed", res.Removed, "changed", res.Changed)
				a.warnUnapplied(cfg)
				a.cfg = cfg
				a.current.Store(cfg)
				a.watcher.SetGroups(watchGroups(cfg))
				return nil
			}
		}
	}
	a.countConfigReload("invalid")
	a.log.Error("config reload failed: keeping the running config", "file", a.cfg.File, "err", err)
	return fmt.Errorf("config %s not applied:\n%w", a.cfg.File, err)
}

// warnUnapplied names sections that only take effect at phpinit's start.
func (a *App) warnUnapplied(cfg *config.Config) {
	var stale []string
	if cfg.HTTP != a.cfg.HTTP {
		stale = append(stale, "http")
	}
	if cfg.Control != a.cfg.Control {
		stale = append(stale, "control")
	}
	if cfg.Log != a.cfg.Log {
		stale = append(stale, "log")
	}
	if cfg.Hooks != a.cfg.Hooks {
		stale = append(stale, "hooks")
	}
	if cfg.Shutdown != a.cfg.Shutdown || cfg.Watch != a.cfg.Watch {
		stale = append(stale, "shutdown/watch")
	}
	if len(stale) > 0 {
		a.log.Warn("these sections change only when phpinit restarts", "sections", stale)
	}
}

func (a *App) countConfigReload(result string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.configReloads[result]++
}

func (a *App) configReloadCounts() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.configReloads)
}

// fingerprint identifies a program's definition and environment.
func fingerprint(p *config.Program, env []string) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(p)
	// The group is not in p's JSON; ctl addresses the program by it.
	h.Write([]byte(p.ProcessGroup))
	h.Write([]byte{0})
	for _, kv := range env {
		h.Write([]byte(kv))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
