package cli

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/app"
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
	return runStatus(stderr, app.Boot(app.BootOptions{
		Stdout: stdout, Stderr: stderr, ConfigPath: flagPath, Getenv: getenv, Command: args,
	}))
}

// runStatus maps what app.Boot returned to run's exit status (newRunCmd
// lists them).
func runStatus(stderr io.Writer, err error) error {
	var (
		status app.Status
		ce     *app.ConfigError
		he     *hooks.Error
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &status):
		return exitWith(int(status), nil)
	case errors.As(err, &ce):
		printConfigErrors(stderr, ce.Err)
		return exitWith(ExitConfig, errors.New("invalid config: not starting"))
	case errors.Is(err, app.ErrNoConfigFile):
		return exitWith(ExitConfig, noConfigFile())
	case errors.Is(err, app.ErrNoPrograms):
		return exitWith(ExitConfig, err)
	case errors.As(err, &he):
		// Logged, with the hook and its status.
		return exitWith(he.Code, nil)
	case errors.Is(err, app.ErrHooksInterrupted):
		return exitWith(ExitHooksInterrupted, nil)
	}
	return exitWith(ExitFailed, err)
}

func orNone(s string) string {
	if s == "" {
		return "(no config file)"
	}
	return s
}
