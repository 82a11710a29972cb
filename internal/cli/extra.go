package cli

import "github.com/spf13/cobra"

// extraCommands are the adapters' subcommands (ctl, healthcheck).
func extraCommands() []*cobra.Command { return []*cobra.Command{newCtlCmd(), newHealthcheckCmd()} }
