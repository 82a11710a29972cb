package cli

import (
	"errors"
	"fmt"
	"os"

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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, _ := config.Lookup(path, getenv)
			cfg, err := config.Load(config.Options{Path: file, Environ: os.Environ(), Offline: offline, RequirePrograms: true})
			printNotices(cmd.ErrOrStderr(), cfg.Notices)
			if err != nil {
				printConfigErrors(cmd.ErrOrStderr(), err)
				return exitWith(ExitFailed, nil)
			}
			if print {
				out, err := cfg.YAML()
				if err != nil {
					return exitWith(ExitFailed, err)
				}
				_, _ = cmd.OutOrStdout().Write(out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "config file (default: $PHPINIT_CONFIG, /data/conf/phpinit/phpinit.yaml, /etc/phpinit/phpinit.yaml)")
	cmd.Flags().BoolVar(&print, "print", false, "write the effective config to stdout")
	cmd.Flags().BoolVar(&offline, "offline", false, "skip checks of users, groups and commands on this machine")
	return cmd
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
