package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/healthcheck"
	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/tlscert"
	"github.com/phpinit/phpinit/internal/watch"
	"github.com/phpinit/phpinit/supervisor"
	"github.com/prometheus/client_golang/prometheus"
)

// configGroup is the watch group of phpinit's own config file; program
// names cannot start with "@".
const configGroup = "@config"

// app is a running phpinit: the supervisor and the adapters around it.
// One goroutine (manage) owns the config and applies reloads in order.
type app struct {
	log     *slog.Logger
	cfg     *config.Config
	env     []string
	environ []string
	sup     *supervisor.Supervisor
	hub     *logsink.Hub
	runner  *lateRunner
	watcher *watch.Watcher
	httpSrv *healthcheck.Server
	ctlSrv  *control.Server
	// reloads asks manage for a full reload (SIGHUP, ctl reload, POST /-/reload).
	reloads chan chan error

	mu            sync.Mutex
	configReloads map[string]uint64
}

func newApp(logger *slog.Logger, hub *logsink.Hub, cfg *config.Config, res *hooks.Result) (*app, error) {
	a := &app{
		log:           logger,
		cfg:           cfg,
		env:           res.Env,
		environ:       os.Environ(),
		hub:           hub,
		runner:        &lateRunner{},
		reloads:       make(chan chan error),
		configReloads: map[string]uint64{"ok": 0, "invalid": 0},
	}
	specs, err := buildSpecs(cfg, res.Env, a.runner)
	if err != nil {
		return nil, err
	}
	a.sup, err = supervisor.New(supervisor.Options{
		Programs: specs,
		Grace:    cfg.Shutdown.Grace,
		Drain:    cfg.Shutdown.Drain,
		Logger:   logger,
		Sinks:    a.hub,
		// On the loop: must not block. The reload runs on manage.
		OnHUP: func() { go a.reloadAll(context.Background()) },
	})
	if err != nil {
		return nil, err
	}
	a.runner.sup = a.sup
	if err := a.startAdapters(res); err != nil {
		a.closeAdapters()
		return nil, err
	}
	return a, nil
}

func (a *app) startAdapters(res *hooks.Result) error {
	var err error
	a.watcher, err = watch.New(watchGroups(a.cfg), watch.Options{
		Debounce:     a.cfg.Watch.Debounce,
		PollInterval: a.cfg.Watch.PollInterval,
		Logger:       a.log.With("component", "watch"),
	})
	if err != nil {
		return err
	}
	if a.cfg.Control.Socket != "" {
		l, err := control.Listen(a.cfg.Control.Socket, a.log)
		if err != nil {
			return err
		}
		a.ctlSrv = control.Serve(l, (*controlAdapter)(a), a.log.With("component", "control"))
	}
	// Before nginx starts: the image's site reads /run/tls.
	tlsPrep, err := tlscert.Prepare(a.log, tlscert.ConfDir, tlscert.RunDir)
	if err != nil {
		a.log.Warn("no TLS certificate for nginx", "err", err)
	}
	if a.cfg.HTTP.Listen != "" {
		a.httpSrv, err = healthcheck.NewServer(healthcheck.ServerOptions{
			Collectors:      []prometheus.Collector{tlscert.NewCollector(tlsPrep)},
			Listen:          a.cfg.HTTP.Listen,
			EnableLifecycle: a.cfg.HTTP.EnableLifecycle,
			Source:          (*controlAdapter)(a),
			Metrics:         a.cfg.Metrics,
			LogDrops:        a.hub.Dropped,
			ConfigReloads:   a.configReloadCounts,
			WatchErrors:     a.watcher.Errors,
			Hooks:           res.Durations,
			Logger:          a.log.With("component", "http"),
		})
		if err != nil {
			return err
		}
		if err := a.httpSrv.Start(); err != nil {
			return err
		}
	}
	return nil
}

// run supervises until the stop completes and returns the exit status.
func (a *app) run() int {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.manage(ctx); close(done) }()
	code := a.sup.Run(context.Background())
	cancel()
	<-done
	a.closeAdapters()
	return code
}

func (a *app) closeAdapters() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if a.ctlSrv != nil {
		_ = a.ctlSrv.Close(ctx)
	}
	if a.httpSrv != nil {
		_ = a.httpSrv.Close(ctx)
	}
	if a.watcher != nil {
		_ = a.watcher.Close()
	}
}

// manage applies watched changes and reload requests, one at a time.
func (a *app) manage(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-a.watcher.Changes():
			if !ok {
				return
			}
			a.changed(ctx, ch)
		case reply := <-a.reloads:
			reply <- a.doReloadAll(ctx)
		}
	}
}

func (a *app) changed(ctx context.Context, ch watch.Change) {
	if ch.Group == configGroup {
		a.log.Info("config file changed", "file", a.cfg.File)
		_ = a.reloadConfig(ctx)
		return
	}
	a.log.Info("watched files changed", "program", ch.Group, "paths", strings.Join(ch.Paths, ","))
	// Reload records its outcome (ctl status, metrics, log); a program not
	// running yet gets it once it runs.
	go func() {
		if err := a.sup.Reload(ctx, ch.Group); err != nil {
			a.log.Debug("reload", "program", ch.Group, "err", err)
		}
	}()
}

// reloadAll asks manage to re-read the config and reload every program,
// as if every watched path changed.
func (a *app) reloadAll(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case a.reloads <- reply:
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

func (a *app) doReloadAll(ctx context.Context) error {
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
func (a *app) reloadConfig(ctx context.Context) error {
	cfg, err := config.Load(config.Options{Path: a.cfg.File, Environ: a.environ})
	if err == nil {
		var specs []supervisor.ProgramSpec
		if specs, err = buildSpecs(cfg, a.env, a.runner); err == nil {
			var res supervisor.UpdateResult
			if res, err = a.sup.Update(ctx, specs); err == nil {
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
func (a *app) warnUnapplied(cfg *config.Config) {
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

func (a *app) countConfigReload(result string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.configReloads[result]++
}

func (a *app) configReloadCounts() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.configReloads)
}

// watchGroups maps each program to its watch paths, plus phpinit's own file.
func watchGroups(cfg *config.Config) map[string][]string {
	groups := map[string][]string{}
	for name, p := range cfg.Programs {
		if len(p.Watch) > 0 {
			groups[name] = p.Watch
		}
	}
	if cfg.File != "" {
		groups[configGroup] = []string{cfg.File}
	}
	return groups
}

// controlAdapter is the supervisor as `phpinit ctl` and the HTTP listener
// see it: a reload of everything also re-reads phpinit.yaml.
type controlAdapter app

func (c *controlAdapter) Snapshot() *supervisor.Snapshot { return c.sup.Snapshot() }
func (c *controlAdapter) Ping(ctx context.Context) error { return c.sup.Ping(ctx) }
func (c *controlAdapter) Start(ctx context.Context, n string) error {
	return c.sup.Start(ctx, n)
}
func (c *controlAdapter) Stop(ctx context.Context, n string) error { return c.sup.Stop(ctx, n) }
func (c *controlAdapter) Restart(ctx context.Context, n string) error {
	return c.sup.Restart(ctx, n)
}
func (c *controlAdapter) Signal(ctx context.Context, n string, sig syscall.Signal) error {
	return c.sup.Signal(ctx, n, sig)
}
func (c *controlAdapter) Reload(ctx context.Context, name string) error {
	if name == "" || name == "all" {
		return (*app)(c).reloadAll(ctx)
	}
	return c.sup.Reload(ctx, name)
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
