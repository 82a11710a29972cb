// Package cli is phpinit's command line: it wires config, hooks, the
// supervisor and the adapters, and maps the final error to an exit status.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phpinit/phpinit/internal/version"
)

// Exit statuses of phpinit itself (programs' and hooks' statuses pass
// through as documented in the README).
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
	// ExitConfig is sysexits' EX_CONFIG: the config is invalid.
	ExitConfig = 78
	// ExitHooksInterrupted: a stop signal came while the hooks ran, so
	// nothing was started (128+SIGINT, as a shell reports Ctrl-C).
	ExitHooksInterrupted = 130
)

// exitError carries an exit status up to Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// exitWith ends the command with code; err (if any) is printed first.
func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

// Run executes phpinit with args (without the program name) and returns its
// exit status.
func Run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(normalizeArgs(args, root))
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "phpinit:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "phpinit:", err)
	return ExitUsage
}

// normalizeArgs turns the container forms into `run`: no arguments, flags
// only, `-- CMD`, or `CMD ARGS` where CMD is not one of our subcommands (so
// `docker run IMAGE php -v` runs `php -v` under phpinit).
func normalizeArgs(args []string, root *cobra.Command) []string {
	if len(args) == 0 {
		return []string{"run"}
	}
	first := args[0]
	if strings.HasPrefix(first, "-") {
		if first == "-h" || first == "--help" || first == "--version" {
			return args
		}
		return append([]string{"run"}, args...)
	}
	for _, c := range root.Commands() {
		if c.Name() == first || c.HasAlias(first) {
			return args
		}
	}
	return append([]string{"run", "--"}, args...)
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "phpinit",
		Short: "init and supervisor for nginx + php-fpm containers",
		Long: `phpinit runs as a container's PID 1: it sources /data/script/script.sh,
starts php-fpm and nginx, restarts them, reaps zombies, reloads on config
changes and stops gracefully. With arguments that are not a phpinit
command, it runs them as a one-off command after the hooks.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(), newCheckCmd(), newVersionCmd())
	root.AddCommand(extraCommands()...)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "phpinit %s (commit %s, %s)\n",
				version.Version, version.Commit, version.GoVersion())
			return nil
		},
	}
}

func getenv(k string) string { return os.Getenv(k) }
