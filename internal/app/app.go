// Package app is the running phpinit: it builds the supervisor's program
// specs from the config, wires the supervisor, the watcher, the control
// socket and the HTTP listener, and turns every reload request (SIGHUP,
// `ctl reload`, POST /-/reload, watched changes) into reloads in one place
// (reload.go). internal/cli only parses flags and maps errors to exit
// statuses.
package app

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/healthcheck"
	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/internal/tlscert"
	"github.com/phpinit/phpinit/internal/watch"
	"github.com/phpinit/phpinit/supervisor"
	"github.com/prometheus/client_golang/prometheus"
)

// configGroup is the watch group of phpinit's own config file; program
// names cannot start with "@".
const configGroup = "@config"

// App is a running phpinit: the supervisor and the adapters around it.
// One goroutine (manage) owns the config and applies reloads in order.
type App struct {
	log     *slog.Logger
	cfg     *config.Config
	env     []string
	environ []string
	sup     *supervisor.Supervisor
	hub     *logsink.Hub
	watcher *watch.Watcher
	httpSrv *healthcheck.Server
	// held: the programs' listening sockets (held.go), used by manage.
	held   *held
	ctlSrv *control.Server
	// reloads holds the whole-config reloads asked of manage (see Reload).
	reloads *reloadQueue

	mu            sync.Mutex
	configReloads map[string]uint64

	// current is cfg for readers off manage (`phpinit exec`'s environment).
	current atomic.Pointer[config.Config]
}

// New builds the supervisor for cfg, with res (the hooks' outcome) giving
// the programs' environment, and starts the adapters. Call Run next.
// sigs is phpinit's subscription to supervisor.LoopSignals (nil: the
// supervisor subscribes itself).
func New(logger *slog.Logger, hub *logsink.Hub, cfg *config.Config, res *hooks.Result, sigs <-chan os.Signal) (*App, error) {
	a := &App{
		log:           logger,
		cfg:           cfg,
		env:           res.Env,
		environ:       os.Environ(),
		hub:           hub,
		reloads:       newReloadQueue(),
		configReloads: map[string]uint64{"ok": 0, "invalid": 0},
	}
	a.current.Store(cfg)
	specs, err := buildSpecs(cfg, res.Env)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 && !proc.CanRestrictBounding() {
		logger.Warn("no CAP_SETPCAP: programs keep phpinit's capability bounding set")
	}
	// Before the first program starts, for the whole run.
	if a.held, err = bindHeld(cfg, logger); err != nil {
		return nil, err
	}
	a.held.attach(specs)
	a.sup, err = supervisor.New(supervisor.Options{
		Programs: specs,
		Grace:    cfg.Shutdown.Grace,
		Drain:    cfg.Shutdown.Drain,
		Logger:   logger,
		Sinks:    a.hub,
		Signals:  sigs,
		// On the loop: must not block, and queues no goroutine per
		// signal (a burst of SIGHUPs is one or two reloads).
		OnHUP: func() { a.reloads.add(true, nil) },
	})
	if err != nil {
		a.held.close()
		return nil, err
	}
	if err := a.startAdapters(res); err != nil {
		a.closeAdapters()
		a.held.close()
		return nil, err
	}
	return a, nil
}

func (a *App) startAdapters(res *hooks.Result) error {
	var err error
	a.watcher, err = watch.New(watchGroups(a.cfg), watch.Options{
		Debounce:     a.cfg.Watch.Debounce,
		PollInterval: a.cfg.Watch.PollInterval,
		Limits:       watch.Limits{MaxFiles: a.cfg.Watch.MaxFiles, MaxBytes: int64(a.cfg.Watch.MaxBytes)},
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
		a.ctlSrv = control.Serve(l, &source{a, FromControl}, a.log.With("component", "control"))
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
			MaxConnections:  a.cfg.HTTP.MaxConnections,
			Source:          &source{a, FromHTTP},
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

// Run supervises until the stop completes and returns the exit status.
func (a *App) Run() int {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.manage(ctx); close(done) }()
	code := a.sup.Run(context.Background())
	cancel()
	<-done
	a.closeAdapters()
	a.held.close()
	return code
}

func (a *App) closeAdapters() {
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

// watchGroups maps each program to its watch paths, plus phpinit's own file.
func watchGroups(cfg *config.Config) map[string][]string {
	groups := map[string][]string{}
	for name, p := range cfg.Programs {
		if len(p.Watch) > 0 {
			groups[name] = p.Watch
		}
	}
	if cfg.File != "" {
		groups[configGroup] = append([]string{cfg.File}, supervisordDirs(cfg)...)
	}
	return groups
}

// source is the supervisor as `phpinit ctl` and the HTTP listener see it:
// their reloads go through App.Reload.
type source struct {
	a    *App
	from string
}

func (c *source) Snapshot() *supervisor.Snapshot { return c.a.sup.Snapshot() }
func (c *source) Ping(ctx context.Context) error { return c.a.sup.Ping(ctx) }
func (c *source) Start(ctx context.Context, n string) error {
	return c.a.sup.Start(ctx, n)
}
func (c *source) Stop(ctx context.Context, n string) error { return c.a.sup.Stop(ctx, n) }
func (c *source) Restart(ctx context.Context, n string) error {
	return c.a.sup.Restart(ctx, n)
}
func (c *source) Signal(ctx context.Context, n string, sig syscall.Signal) error {
	return c.a.sup.Signal(ctx, n, sig)
}
func (c *source) Reload(ctx context.Context, name string) error {
	return c.a.Reload(ctx, c.from, name)
}
