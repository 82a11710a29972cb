package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/app"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/supervisor"
)

func newRunCmd() *cobra.Command {
	var path, only string
	cmd := &cobra.Command{
		Use:   "run [--config FILE] [--only NAME[,NAME...]] [-- CMD [ARGS...]]",
		Short: "supervise the configured programs (or run CMD as the only program)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if only != "" {
				// The flag is PHPINIT_ONLY: config reloads read it
				// from the environment too.
				_ = os.Setenv(config.EnvOnly, only)
			}
			return run(cmd.OutOrStdout(), cmd.ErrOrStderr(), path, args)
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "config file (default: $PHPINIT_CONFIG, /data/conf/phpinit/phpinit.yaml, /etc/phpinit/phpinit.yaml)")
	cmd.Flags().StringVar(&only, "only", "", "define only these programs or groups, and what they depend on (default: $PHPINIT_ONLY, else all)")
	return withExits(cmd, `
  0    a requested stop completed, or a critical program ended with 0
  N    a critical program went FATAL or ended with N (128+N: killed by signal
       N; 1: FATAL after status 0; 127: its command cannot be started)
  N    a hook failed with N (124: it timed out)
  1    phpinit could not start (control socket or HTTP port taken)
  2    usage error
  78   invalid config, no config file, or no programs configured
  130  stopped by a signal while the hooks ran
With CMD: CMD's status (128+N: killed by signal N; 126: cannot be executed;
127: not found).`)
}

func run(stdout, stderr io.Writer, flagPath string, args []string) error {
	oneShot := len(args) > 0
	// First of all: signals (signals.go), and descriptors phpinit
	// inherited, which no child may get unless passed on (proc.ForkExec).
	sigList := supervisor.LoopSignals()
	if oneShot {
		sigList = supervisor.OneShotSignals()
	}
	sigs := subscribe(sigList)
	defer sigs.stop()
	inherited, fdErr := proc.MarkInheritedCloseOnExec()
	// An init needs one core: one P means fewer runtime threads and about
	// half the idle wakeups (bench/README.md). GOMAXPROCS in the
	// environment still wins.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	file, explicit := config.Lookup(flagPath, getenv)
	cfg, err := config.Load(config.Options{
		Path:         file,
		AllowMissing: oneShot || !explicit,
		Environ:      os.Environ(),
		// One-off commands need no programs.
		RequirePrograms: !oneShot,
	})
	if err != nil {
		printConfigErrors(stderr, err)
		return exitWith(ExitConfig, errors.New("invalid config: not starting"))
	}
	if !oneShot && cfg.File == "" {
		return exitWith(ExitConfig, noConfigFile())
	}
	hub, logOut := newHub(stdout, stderr)
	// Own log lines are queued (logsink.Hub.LogWriter): write what is left,
	// but never wait long on a stalled destination.
	defer hub.Flush(500 * time.Millisecond)
	logger := newLogger(logOut, cfg.Log)
	hub.SetLogger(logger)
	logNotices(logger, cfg.Notices)
	for _, w := range config.UnknownEnv(os.Environ(), programNames(cfg)) {
		logger.Warn(w)
	}
	if fdErr != nil {
		logger.Warn("inherited descriptors may reach children", "err", fdErr)
	}

	ctx, endHooks := sigs.watchHooks(logger)
	if !oneShot {
		app.SeedDefaults(logger, app.DefaultsDir, app.ConfDir)
	}
	res, err := hooks.Run(ctx, hooks.Options{
		Script:  cfg.Hooks.Script,
		Dir:     cfg.Hooks.Dir,
		Timeout: cfg.Hooks.Timeout,
		OnError: cfg.Hooks.OnError,
		Env:     os.Environ(),
		Stdout:  hub.Stdout(),
		Stderr:  hub.Stderr(),
		Logger:  logger,
	})
	stopSig := endHooks()
	if err != nil {
		var he *hooks.Error
		if errors.As(err, &he) && stopSig == nil {
			logger.Error("hook failed: not starting", "hook", he.Hook, "exit_code", he.Code, "err", he.Err)
			return exitWith(he.Code, nil)
		}
		logger.Error("hooks interrupted", "err", err)
		return exitWith(ExitHooksInterrupted, nil)
	}
	if stopSig != nil {
		// The hooks ended just as the stop came: nothing starts either.
		return exitWith(ExitHooksInterrupted, nil)
	}

	if oneShot {
		// The command gets what phpinit inherited, as tini passes it on;
		// programs, hooks, checks and probes do not.
		code := supervisor.RunCommand(context.Background(), supervisor.Command{
			Argv: args, Env: res.Env, Logger: logger, Signals: sigs.c, Files: proc.PassThrough(inherited),
		})
		return exitWith(code, nil)
	}
	return supervise(logger, hub, cfg, res, sigs.c)
}

func supervise(logger *slog.Logger, hub *logsink.Hub, cfg *config.Config, res *hooks.Result, sigs <-chan os.Signal) error {
	if len(cfg.Programs) == 0 {
		return exitWith(ExitConfig, fmt.Errorf("no programs configured in %s", cfg.File))
	}
	a, err := app.New(logger, hub, cfg, res, sigs)
	if err != nil {
		return exitWith(ExitFailed, err)
	}
	return exitWith(a.Run(), nil)
}

func orNone(s string) string {
	if s == "" {
		return "(no config file)"
	}
	return s
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h)
}

// newHub carries programs' output to phpinit's stdout and stderr, and
// returns the writer phpinit's own log goes through: the hub's, so a log
// line never lands inside a program's long line. Writers that are not files
// (tests) are used as they are.
func newHub(stdout, stderr io.Writer) (*logsink.Hub, io.Writer) {
	outF, okOut := stdout.(*os.File)
	errF, okErr := stderr.(*os.File)
	if !okOut || !okErr {
		return logsink.NewHub(os.Stdout, os.Stderr, nil), stderr
	}
	hub := logsink.NewHub(outF, errF, nil)
	return hub, hub.LogWriter()
}
