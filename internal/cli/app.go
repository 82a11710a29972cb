package cli

import (
	"context"
	"log/slog"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/supervisor"
)

// app is a running phpinit: the supervisor and the adapters around it.
type app struct {
	log *slog.Logger
	cfg *config.Config
	sup *supervisor.Supervisor
}

func newApp(logger *slog.Logger, cfg *config.Config, specs []supervisor.ProgramSpec, res *hooks.Result) (*app, error) {
	sup, err := supervisor.New(supervisor.Options{
		Programs: specs,
		Grace:    cfg.Shutdown.Grace,
		Drain:    cfg.Shutdown.Drain,
		Logger:   logger,
	})
	if err != nil {
		return nil, err
	}
	return &app{log: logger, cfg: cfg, sup: sup}, nil
}

// run supervises until the stop completes and returns the exit status.
func (a *app) run() int {
	return a.sup.Run(context.Background())
}
