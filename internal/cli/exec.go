package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/internal/proc"
)

// execTimeout bounds the question to the running phpinit.
const execTimeout = 10 * time.Second

const execLong = `exec runs CMD (for docker exec / kubectl exec) with the environment the
running phpinit gives its programs: phpinit's own, the variables script.sh
exported, and with --program that program's environment and directory. It
asks phpinit over the control socket (root or phpinit's user only), so the
values are never written to a file.

The user is --user, else the program's (with --program, when phpinit runs
as root), else phpinit's own. Switching user needs root.

CMD replaces phpinit exec (no process in between): its exit status, signals
and terminal are its own. Exit status: CMD's; 127 CMD not found, 126 not
executable, 3 cannot reach phpinit, 1 other failures before CMD runs.`

func newExecCmd() *cobra.Command {
	o := &ctlOptions{}
	var program, user string
	cmd := &cobra.Command{
		Use:   "exec [--program NAME] [--user USER] -- CMD [ARGS...]",
		Short: "run a command with the environment phpinit gives its programs",
		Long:  execLong,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitWith(ExitUsage, errors.New("usage: phpinit exec [--program NAME] [--user USER] -- CMD [ARGS...]"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var env *control.ExecEnv
			err := o.callWithin(cmd, execTimeout, func(ctx context.Context, c *control.Client) error {
				var err error
				env, err = c.ExecEnv(ctx, control.ExecRequest{Program: program, User: user})
				return err
			})
			if err != nil {
				return err
			}
			return execInto(env, args)
		},
	}
	// CMD's own flags are CMD's: `phpinit exec php -v` needs no "--".
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&program, "program", "", "add this program's environment, directory and user (a group: its first program)")
	cmd.Flags().StringVar(&user, "user", "", "run as this user (name or uid) instead")
	cmd.Flags().StringVar(&o.socket, "socket", "", "control socket (default: control.socket from the config, /run/phpinit/phpinit.sock)")
	cmd.Flags().StringVar(&o.config, "config", "", "config file to read control.socket from (default: as for run)")
	return cmd
}

// execInto switches to env's user and directory and replaces this process
// with argv. It returns only on failure.
func execInto(env *control.ExecEnv, argv []string) error {
	dir := env.Dir
	path, err := proc.LookPath(argv[0], env.Env, dir)
	if err != nil {
		return exitWith(proc.StartCode(err), err)
	}
	if err := switchUser(env); err != nil {
		return exitWith(ExitFailed, err)
	}
	if dir != "" {
		if err := os.Chdir(dir); err != nil {
			return exitWith(ExitFailed, fmt.Errorf("cannot change to directory %s: %w", dir, err))
		}
	}
	// Since Go 1.16 the set*id calls apply to every thread, so the exec'd
	// image runs with the new credentials whichever thread execs.
	err = syscall.Exec(path, argv, env.Env)
	return exitWith(proc.StartCode(err), fmt.Errorf("cannot run %s: %w", argv[0], err))
}

// switchUser takes env's uid, gid and groups when they are not ours.
func switchUser(env *control.ExecEnv) error {
	if uint32(os.Geteuid()) == env.UID && uint32(os.Getegid()) == env.GID {
		return nil
	}
	groups := make([]int, len(env.Groups))
	for i, g := range env.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("cannot run as %s (uid %d): setgroups: %w", env.User, env.UID, err)
	}
	if err := syscall.Setgid(int(env.GID)); err != nil {
		return fmt.Errorf("cannot run as %s (uid %d): setgid: %w", env.User, env.UID, err)
	}
	if err := syscall.Setuid(int(env.UID)); err != nil {
		return fmt.Errorf("cannot run as %s (uid %d): setuid: %w", env.User, env.UID, err)
	}
	return nil
}
