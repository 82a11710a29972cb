package app

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

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/supervisor"
)

// BootOptions is what `phpinit run` was given.
type BootOptions struct {
	Stdout, Stderr io.Writer
	// ConfigPath is --config; "" looks it up (config.Lookup).
	ConfigPath string
	Getenv     func(string) string
	// Command is the one-off command (`phpinit -- CMD`); empty supervises
	// the configured programs.
	Command []string
}

// What Boot returns instead of running, for the caller to turn into an
// exit status. Each is logged, or carries its message, already.
var (
	// ErrNoConfigFile: no config file was given or found.
	ErrNoConfigFile = errors.New("no config file")
	// ErrNoPrograms: the config names no program.
	ErrNoPrograms = errors.New("no programs configured")
	// ErrHooksInterrupted: a stop signal came while the hooks ran.
	ErrHooksInterrupted = errors.New("stopped by a signal while the hooks ran")
)

// ConfigError is a config that does not load; Err has every problem.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "invalid config: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Status is the exit status phpinit takes from what it ran: a critical
// program's, the one-off command's (128+N: killed by signal N), or 0 after
// a requested stop.
type Status int

func (s Status) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// Boot is `phpinit run` after its flags: it subscribes the signals first
// of all, loads the config, starts phpinit's own log, runs the hooks, then
// runs the one-off command or supervises the programs until they end. It
// returns Status, a *hooks.Error (a hook failed), a *ConfigError, one of
// the Err values above, or an error that kept phpinit from starting (a
// control socket or port taken).
func Boot(o BootOptions) error {
	oneShot := len(o.Command) > 0
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
	if o.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	file, explicit := config.Lookup(o.ConfigPath, o.Getenv)
	cfg, err := config.Load(config.Options{
		Path:         file,
		AllowMissing: oneShot || !explicit,
		Environ:      os.Environ(),
		// One-off commands need no programs.
		RequirePrograms: !oneShot,
	})
	if err != nil {
		return &ConfigError{Err: err}
	}
	if !oneShot && cfg.File == "" {
		return ErrNoConfigFile
	}
	hub, logOut := newHub(o.Stdout, o.Stderr)
	// Own log lines are queued (logsink.Hub.LogWriter): write what is left,
	// but never wait long on a stalled destination.
	defer hub.Flush(500 * time.Millisecond)
	logger := newLogger(logOut, cfg.Log)
	hub.SetLogger(logger)
	logNotices(logger, cfg.Notices)
	for _, w := range config.UnknownEnv(os.Environ(), cfg.Order()) {
		logger.Warn(w)
	}
	if fdErr != nil {
		logger.Warn("inherited descriptors may reach children", "err", fdErr)
	}

	res, err := runHooks(logger, hub, cfg, sigs, oneShot)
	if err != nil {
		return err
	}
	if oneShot {
		// The command gets what phpinit inherited, as tini passes it on;
		// programs, hooks, checks and probes do not.
		return Status(supervisor.RunCommand(context.Background(), supervisor.Command{
			Argv: o.Command, Env: res.Env, Logger: logger, Signals: sigs.c, Files: proc.PassThrough(inherited),
		}))
	}
	if len(cfg.Programs) == 0 {
		return fmt.Errorf("%w in %s", ErrNoPrograms, cfg.File)
	}
	a, err := New(logger, hub, cfg, res, sigs.c)
	if err != nil {
		return err
	}
	return Status(a.Run())
}

// runHooks seeds empty config directories (supervising) and runs the
// hooks, which a stop signal cuts short.
func runHooks(logger *slog.Logger, hub *logsink.Hub, cfg *config.Config, sigs *signals, oneShot bool) (*hooks.Result, error) {
	ctx, endHooks := sigs.watchHooks(logger)
	if !oneShot {
		SeedDefaults(logger, DefaultsDir, ConfDir)
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
			return nil, he
		}
		logger.Error("hooks interrupted", "err", err)
		return nil, ErrHooksInterrupted
	}
	if stopSig != nil {
		// The hooks ended just as the stop came: nothing starts either.
		return nil, ErrHooksInterrupted
	}
	return res, nil
}

// logNotices logs what reading supervisord files found that is not an
// error, so that no unknown key is dropped silently.
func logNotices(logger *slog.Logger, notices []config.Notice) {
	for _, n := range notices {
		level := slog.LevelInfo
		if n.Level == "warn" {
			level = slog.LevelWarn
		}
		attrs := []any{"at", n.Where}
		if n.Program != "" {
			attrs = append(attrs, "program", n.Program)
		}
		if n.Key != "" {
			attrs = append(attrs, "key", n.Key)
		}
		logger.Log(context.Background(), level, "supervisord file: "+n.Msg, attrs...)
	}
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
