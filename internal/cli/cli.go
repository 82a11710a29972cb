// Package cli is phpinit's command line: it wires config, hooks, the
// supervisor and the adapters, and maps the final error to an exit status.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/phpinit/phpinit/internal/suggest"
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
	args, err := normalizeArgs(args, root, exec.LookPath)
	if err == nil {
		root.SetArgs(args)
		err = root.Execute()
	}
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
// `docker run IMAGE php -v` runs `php -v` under phpinit). A CMD that is
// not on PATH (lookPath) but a small typo away from a subcommand (chek) is
// a usage error with the suggestion: running the hooks and then failing
// with "not found" would help nobody.
func normalizeArgs(args []string, root *cobra.Command, lookPath func(string) (string, error)) ([]string, error) {
	if len(args) == 0 {
		return []string{"run"}, nil
	}
	first := args[0]
	if strings.HasPrefix(first, "-") {
		if first == "-h" || first == "--help" || first == "--version" || first == "-v" {
			return args, nil
		}
		return append([]string{"run"}, args...), nil
	}
	var names []string
	for _, c := range root.Commands() {
		if c.Name() == first || c.HasAlias(first) {
			return args, nil
		}
		if c.IsAvailableCommand() || c.Name() == "help" {
			names = append(names, c.Name())
		}
	}
	if !strings.Contains(first, "/") {
		if _, err := lookPath(first); err != nil {
			if s := suggest.Closest(first, names, typoDistance); s != "" {
				return nil, exitWith(ExitUsage, fmt.Errorf("unknown command %q (did you mean %s?); "+
					"to run a program of that name: phpinit run -- %s", first, s, first))
			}
		}
	}
	return append([]string{"run", "--"}, args...), nil
}

// typoDistance is how far (in edits) a mistyped subcommand, verb or flag
// may be from the one it is taken for.
const typoDistance = 2

// flagError adds the nearest flag to cobra's "unknown flag: --confg".
func flagError(cmd *cobra.Command, err error) error {
	const prefix = "unknown flag: --"
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return exitWith(ExitUsage, err)
	}
	typed, _, _ := strings.Cut(strings.TrimPrefix(msg, prefix), "=")
	var names []string
	collect := func(f *pflag.Flag) { names = append(names, f.Name) }
	cmd.Flags().VisitAll(collect)
	cmd.InheritedFlags().VisitAll(collect)
	if cmd.Name() == "run" {
		// `phpinit --verison` reaches run (flags alone mean run).
		cmd.Root().LocalNonPersistentFlags().VisitAll(collect)
	}
	if s := suggest.Closest(typed, names, typoDistance); s != "" {
		return exitWith(ExitUsage, fmt.Errorf("%w (did you mean --%s?)", err, s))
	}
	return exitWith(ExitUsage, err)
}

// unknownSubcommand is the Args of a command whose arguments must be one of
// its subcommands: a usage error naming the nearest.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if s := suggest.Closest(args[0], names, typoDistance); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	return exitWith(ExitUsage, errors.New(msg))
}

// withExits appends the command's exit statuses to its help.
func withExits(cmd *cobra.Command, exits string) *cobra.Command {
	long := cmd.Long
	if long == "" {
		long = cmd.Short
	}
	sep := " "
	if strings.HasPrefix(exits, "\n") {
		sep = "" // a table
	}
	cmd.Long = long + "\n\nExit status:" + sep + exits
	return cmd
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
		Version:       version.Version,
	}
	root.SetVersionTemplate(versionLine())
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newRunCmd(), newCheckCmd(), newVersionCmd())
	root.AddCommand(newMigrateCmd())
	root.AddCommand(newExecCmd())
	root.AddCommand(extraCommands()...)
	// Now, not at Execute: normalizeArgs must know `help` is ours, and
	// flagError --version.
	root.InitDefaultHelpCmd()
	root.InitDefaultVersionFlag()
	withExits(root, "as for run (phpinit with no command is phpinit run); see each command's --help.")
	return root
}

// versionLine is what `phpinit version` and `phpinit --version` print.
func versionLine() string {
	return fmt.Sprintf("phpinit %s (commit %s, %s)\n", version.Version, version.Commit, version.GoVersion())
}

func newVersionCmd() *cobra.Command {
	return withExits(&cobra.Command{
		Use:   "version",
		Short: "print version, commit and Go version (also: phpinit --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}, "0; 2 usage error.")
}

func getenv(k string) string { return os.Getenv(k) }
