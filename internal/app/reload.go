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
		case reply := <-a.fullReloads:
			reply <- a.fullReload(ctx)
		}
	}
}

func (a *App) changed(ctx context.Context, ch watch.Change) {
	if ch.Group == configGroup {
		a.log.Info("config file changed", "file", a.cfg.File)
		_ = a.reloadConfig(ctx)
		return
	}
	a.log.Info("watched files changed", "program", ch.Group, "paths", strings.Join(ch.Paths, ","))
	// Not on manage: a check may take a while. A program not running yet
	// gets the reload once it runs.
	go func() { _ = a.Reload(ctx, FromWatch, ch.Group) }()
}

func (a *App) askFullReload(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case a.fullReloads <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
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
	for _, kv := range env {
		h.Write([]byte(kv))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
