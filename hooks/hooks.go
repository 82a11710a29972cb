// Package hooks runs the user's start-up hooks once, before the supervisor
// loop exists, the way the classic start.sh did (`. /data/script/script.sh`
// then `supervisord -n`).
//
// First Options.Script is sourced by bash (sh without bash) in a child shell
// and the environment it exports is captured: it becomes the environment of
// every program (see [Result]). Capturing needs an env(1) that supports -0
// (coreutils); bash alone also does without one. Then every executable in
// Options.Dir runs, in byte order of names like run-parts, with that
// environment. Those are separate processes: what they export goes nowhere.
//
// Each hook gets its own process group, killed with SIGKILL on timeout or
// cancellation. A hook may leave a daemon behind; once the hook itself has
// exited we wait at most a second for the daemon to close the output it
// inherited, then go on and keep forwarding that output in the background.
//
// Because no wait4(-1) reaper runs yet, the hook runner itself learns
// each hook's exit status; Run must return before the reaper starts.
package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options say which hooks to run and how.
type Options struct {
	// Script is sourced with bash (sh when there is no bash on PATH); the
	// variables it exports reach Result.Env. "" or a missing file: skipped.
	Script string
	// Dir holds executables run in lexical order after Script; dotfiles,
	// directories and non-executable files are skipped, symlinks followed.
	// "" or a missing directory: skipped.
	Dir string
	// Timeout bounds each hook; on expiry its process group is killed and it
	// fails with code 124. 0 (or negative) means no limit.
	Timeout time.Duration
	// OnError is "abort" (default when "": Run returns the first failure) or
	// "continue" (log the failure at warn and run the next hook).
	OnError string
	// Env is the base environment, phpinit's own; nil means os.Environ().
	Env []string
	// Stdout and Stderr receive the hooks' output, one Write per whole line.
	// They may be the same writer. nil discards. They must stay usable after
	// Run returns: output of processes a hook left running is still forwarded.
	Stdout, Stderr io.Writer
	// Logger receives progress at debug/info and skipped failures at warn;
	// nil discards.
	Logger *slog.Logger
}

// Result is what the hooks leave for the programs.
type Result struct {
	// Env is the environment for programs: the base environment with the
	// script's exports and unsets applied. See mergeEnv for what is ignored.
	Env []string
	// Exported holds only the variables the script added or changed.
	Exported map[string]string
	// Durations has one entry per hook that ran, in run order.
	Durations []HookDuration
}

// HookDuration is how long one hook ran and how it ended.
type HookDuration struct {
	Hook     string
	Duration time.Duration
	Err      error // nil on success
}

// ErrTimeout is wrapped by the Err of an *Error for a hook that ran past
// Options.Timeout.
var ErrTimeout = errors.New("timed out")

// Error is a hook that failed.
type Error struct {
	Hook string // path of the hook
	// Code follows the shell: the exit status, 128+N when killed by signal N,
	// 124 on timeout, 126 when it cannot be executed, 127 when not found.
	Code int
	Err  error
}

func (e *Error) Error() string {
	if errors.Is(e.Err, ErrTimeout) {
		return "hook " + e.Hook + " " + e.Err.Error()
	}
	return "hook " + e.Hook + " failed: " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Run sources Options.Script, then runs the executables in Options.Dir.
//
// A failing hook is an *Error. When ctx is done (SIGTERM while hooks run) the
// running hook's process group is killed and Run returns an error wrapping
// ctx.Err(). The Result is never nil: on error it holds the base environment
// (or the script's, if the script succeeded) and the durations so far.
func Run(ctx context.Context, o Options) (*Result, error) {
	return run(ctx, o, "")
}

// run is Run with the shell for Script chosen by the caller ("" = look up
// bash, then sh), so tests can exercise both.
func run(ctx context.Context, o Options, shell string) (*Result, error) {
	r, err := newRunner(o, shell)
	if err != nil {
		return nil, err
	}
	res := &Result{Env: slices.Clone(r.base), Exported: map[string]string{}}
	if err := r.sourceScript(ctx, res); err != nil {
		return res, err
	}
	if err := r.runDir(ctx, res); err != nil {
		return res, err
	}
	return res, nil
}

type runner struct {
	o     Options
	log   *slog.Logger
	base  []string
	shell string
	abort bool
	out   *lineSink
}

func newRunner(o Options, shell string) (*runner, error) {
	r := &runner{o: o, log: o.Logger, base: o.Env, shell: shell}
	switch o.OnError {
	case "", "abort":
		r.abort = true
	case "continue":
	default:
		return nil, fmt.Errorf("cannot run hooks: on_error is %q, want abort or continue", o.OnError)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.base == nil {
		r.base = os.Environ()
	}
	r.out = newLineSink(o.Stdout, o.Stderr)
	return r, nil
}

// runDir runs every hook in Options.Dir with the environment in res.
func (r *runner) runDir(ctx context.Context, res *Result) error {
	if r.o.Dir == "" {
		return nil
	}
	// Absolute, so that a hook path always has a slash and exec never
	// searches PATH for it.
	dir, err := filepath.Abs(r.o.Dir)
	if err != nil {
		return fmt.Errorf("cannot list hooks in %s: %w", r.o.Dir, err)
	}
	hooks, err := r.listHooks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		r.log.Debug("no hook directory", "dir", dir)
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot list hooks in %s: %w", dir, err)
	}
	for _, hook := range hooks {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("hook %s not run: %w", hook, err)
		}
		err := r.run(ctx, res, hook, []string{hook}, res.Env, nil)
		if err := r.failed(err); err != nil {
			return err
		}
	}
	return nil
}

// listHooks returns the executable regular files in dir (symlinks followed)
// in lexical order, without dotfiles.
func (r *runner) listHooks(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	var hooks []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			r.log.Debug("hook skipped: dotfile", "hook", path)
			continue
		}
		fi, err := os.Stat(path)
		if err != nil {
			r.log.Warn("hook skipped", "hook", path, "error", err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			r.log.Debug("hook skipped: not an executable file", "hook", path, "mode", fi.Mode().String())
			continue
		}
		hooks = append(hooks, path)
	}
	return hooks, nil
}

// failed decides what a hook's error means for the rest: nil to go on.
// Interruption always stops; a hook failure stops unless OnError is
// "continue", in which case it is logged.
func (r *runner) failed(err error) error {
	if err == nil || r.abort || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	r.log.Warn("hook failed; continuing", "error", err, "exit_code", exitCodeOf(err))
	return nil
}

func exitCodeOf(err error) int {
	var he *Error
	if errors.As(err, &he) {
		return he.Code
	}
	return 1
}
