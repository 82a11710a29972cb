package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/cobra"

	"github.com/phpinit/phpinit/config"
)

func newCheckCmd() *cobra.Command {
	var path string
	var print, offline bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "validate the config and report every problem at once",
		Long: `check validates the config run would read (defaults and PHPINIT_* overrides
applied) and prints every problem at once, one per line as FILE: key: what is
wrong; on success it prints "valid: N programs in FILE".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, explicit := config.Lookup(path, getenv)
			if _, err := os.Stat(file); !explicit && errors.Is(err, fs.ErrNotExist) {
				return exitWith(ExitFailed, noConfigFile())
			}
			cfg, err := config.Load(config.Options{Path: file, Environ: os.Environ(), Offline: offline, RequirePrograms: true})
			printNotices(cmd.ErrOrStderr(), cfg.Notices)
			warnUnknownEnv(cmd.ErrOrStderr(), cfg)
			if err != nil {
				printConfigErrors(cmd.ErrOrStderr(), err)
				return exitWith(ExitFailed, nil)
			}
			// With --print, stdout is the YAML alone.
			done := cmd.OutOrStdout()
			if print {
				out, err := cfg.YAML()
				if err != nil {
					return exitWith(ExitFailed, err)
				}
				_, _ = done.Write(out)
				done = cmd.ErrOrStderr()
			}
			fmt.Fprintf(done, "valid: %d programs in %s\n", len(cfg.Programs), file)
			return nil
		},
	}
	withExits(cmd, "0 valid, 1 invalid (or no config file), 2 usage error.")
	cmd.Flags().StringVar(&path, "config", "", "config file (default: $PHPINIT_CONFIG, /data/conf/phpinit/phpinit.yaml, /etc/phpinit/phpinit.yaml)")
	cmd.Flags().BoolVar(&print, "print", false, "write the effective config to stdout")
	cmd.Flags().BoolVar(&offline, "offline", false, "skip checks of users, groups and commands on this machine")
	return cmd
}

// noConfigFile says where run, check and healthcheck looked for the config.
func noConfigFile() error {
	return fmt.Errorf("no config file: looked in --config (not given), $%s (unset), %s, %s",
		config.EnvConfig, config.DataPath, config.DefaultPath)
}

// warnUnknownEnv prints a warning for each PHPINIT_* variable that names
// no key of cfg (which may be nil).
func warnUnknownEnv(w io.Writer, cfg *config.Config) {
	for _, line := range config.UnknownEnv(os.Environ(), programNames(cfg)) {
		fmt.Fprintln(w, "phpinit: warning:", line)
	}
}

func programNames(cfg *config.Config) []string {
	if cfg == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(cfg.Programs))
}

// printConfigErrors writes one problem per line.
func printConfigErrors(w interface{ Write([]byte) (int, error) }, err error) {
	var me *multierror.Error
	if errors.As(err, &me) {
		for _, e := range me.Errors {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}
