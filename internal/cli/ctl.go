package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/supervisor"
)

// ExitUnreachable is `phpinit ctl`'s status when it cannot reach phpinit:
// no socket, connection refused, or not allowed to connect.
const ExitUnreachable = 3

// ctlTimeout bounds one ctl call. The server gives up on an operation
// after control.OpTimeout; the margin lets that answer arrive.
const ctlTimeout = control.OpTimeout + 10*time.Second

const ctlLong = `ctl talks to a running phpinit over its control socket (control.socket,
default /run/phpinit/phpinit.sock; root or phpinit's user only).

start, stop and restart wait until the program is RUNNING (or down); NAME
may be "all", or a group: every copy of a program with numprocs
("worker" for worker_00, worker_01, ...) or a supervisord [group:x].
signal and status take the same names. reload runs the program's check first and fails, printing the
check's output, when it does not pass; without NAME it reloads every
program that has a reload signal.

status prints one line per program, no header, fields separated by spaces:

  NAME  STATE  pid PID  uptime H:MM:SS  restarts N  last exit CODE [(DESC)] AGO ago  reload RESULT AGO ago

NAME, STATE, PID, UPTIME and RESTARTS are single words at fixed positions
(awk '{print $2}' is the state, $4 the pid, $6 the uptime, $8 the
restarts); "-" stands for none. The last-exit and reload fields come last
because their length varies. AGO is like 12s, 3m4s, 2h5m, 3d4h.

A scheduled program is SCHEDULED between its runs and RUNNING while one
lasts; its line ends with its last run and its next instead of the reload:

  NAME  SCHEDULED  pid -  uptime -  restarts 0  last exit CODE AGO ago  last run RESULT AGO ago  next run in DUR

RESULT is ok (exit 0) or failed. start runs it once now (the schedule goes
on); stop ends a run in progress.

Exit status: ` + ctlExits + "."

const ctlExits = "0 done, 1 the operation failed, 2 usage error (unknown verb or flag, wrong arguments), 3 cannot reach phpinit"

type ctlOptions struct {
	socket string
	config string
}

func newCtlCmd() *cobra.Command {
	o := &ctlOptions{}
	cmd := &cobra.Command{
		Use:   "ctl [--socket PATH] [--config FILE] VERB ...",
		Short: "control a running phpinit: status, start, stop, restart, reload, signal",
		Long:  ctlLong,
		// An unknown verb is an argument the parent refuses: exit status 2,
		// with the nearest verb.
		Args: unknownSubcommand,
		RunE: func(*cobra.Command, []string) error {
			return exitWith(ExitUsage, errors.New("missing verb: status, start, stop, restart, reload or signal (see phpinit ctl --help)"))
		},
	}
	cmd.PersistentFlags().StringVar(&o.socket, "socket", "", "control socket (default: control.socket from the config, /run/phpinit/phpinit.sock)")
	cmd.PersistentFlags().StringVar(&o.config, "config", "", "config file to read control.socket from (default: as for run)")
	cmd.AddCommand(newCtlStatusCmd(o))
	for _, v := range []struct{ verb, done string }{
		{"start", "started"}, {"stop", "stopped"}, {"restart", "restarted"},
	} {
		cmd.AddCommand(newCtlVerbCmd(o, v.verb, v.done))
	}
	cmd.AddCommand(newCtlReloadCmd(o), newCtlSignalCmd(o))
	for _, c := range cmd.Commands() {
		withExits(c, ctlExits+".")
	}
	return cmd
}

func newCtlStatusCmd(o *ctlOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json] [NAME]",
		Short: "show every program's state, or NAME's (a program or group; --json: the whole snapshot)",
		Args:  usageArgs(0, 1, "status [--json] [NAME]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.call(cmd, func(ctx context.Context, c *control.Client) error {
				sn, err := c.Status(ctx)
				if err != nil {
					return err
				}
				if len(args) == 1 {
					if sn.Programs, err = sn.Select(args[0]); err != nil {
						return err
					}
				}
				out := cmd.OutOrStdout()
				if asJSON {
					enc := json.NewEncoder(out)
					enc.SetIndent("", "  ")
					return enc.Encode(sn)
				}
				if sn.Stopping {
					fmt.Fprintln(cmd.ErrOrStderr(), "phpinit is stopping")
				}
				return writeStatus(out, sn, time.Now())
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the supervisor snapshot as JSON")
	return cmd
}

func newCtlVerbCmd(o *ctlOptions, verb, done string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME|all",
		Short: verb + " a program (or all) and wait until it is done",
		Args:  usageArgs(1, 1, verb+" NAME|all"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.call(cmd, func(ctx context.Context, c *control.Client) error {
				if err := c.Do(ctx, verb, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", args[0], done)
				return nil
			})
		},
	}
}

func newCtlReloadCmd(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "reload [NAME|all]",
		Short: "check, then reload a program (default: every program with a reload signal)",
		Args:  usageArgs(0, 1, "reload [NAME|all]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "all"
			if len(args) == 1 {
				name = args[0]
			}
			return o.call(cmd, func(ctx context.Context, c *control.Client) error {
				if err := c.Reload(ctx, name); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: reloaded\n", name)
				return nil
			})
		},
	}
}

func newCtlSignalCmd(o *ctlOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "signal SIG NAME|all",
		Short: "send a signal (HUP, SIGUSR1, 10, ...) to a program's main process",
		Args:  usageArgs(2, 2, "signal SIG NAME|all"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, name := args[0], args[1]
			if _, err := config.ParseSignal(sig); err != nil {
				return exitWith(ExitUsage, err)
			}
			return o.call(cmd, func(ctx context.Context, c *control.Client) error {
				if err := c.Signal(ctx, sig, name); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: signalled %s\n", name, sig)
				return nil
			})
		},
	}
}

// usageArgs accepts lo to hi arguments; otherwise exit status 2 with the
// verb's usage.
func usageArgs(lo, hi int, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return exitWith(ExitUsage, fmt.Errorf("usage: phpinit ctl %s", usage))
		}
		return nil
	}
}

// call runs fn against the socket and maps its error to ctl's exit status.
func (o *ctlOptions) call(cmd *cobra.Command, fn func(context.Context, *control.Client) error) error {
	return o.callWithin(cmd, ctlTimeout, fn)
}

// callWithin is call with its own bound on the call.
func (o *ctlOptions) callWithin(cmd *cobra.Command, ctlTimeout time.Duration, fn func(context.Context, *control.Client) error) error {
	socket, err := o.socketPath()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), ctlTimeout)
	defer cancel()
	err = fn(ctx, control.NewClient(socket))
	if err == nil {
		return nil
	}
	var unreachable *control.UnreachableError
	var apiErr *control.Error
	switch {
	case errors.As(err, &unreachable):
		return exitWith(ExitUnreachable, err)
	case errors.As(err, &apiErr) && apiErr.Kind == control.KindForbidden:
		return exitWith(ExitUnreachable, fmt.Errorf("cannot reach phpinit at %s: %w", socket, err))
	case errors.Is(err, context.DeadlineExceeded):
		return exitWith(ExitFailed, fmt.Errorf("no answer from phpinit at %s within %s", socket, ctlTimeout))
	}
	return exitWith(ExitFailed, err)
}

// socketPath is --socket, else control.socket from the config run would
// read. The config matters only for that key: any other problem in it is
// for `phpinit check` to report, and the default path is used instead.
func (o *ctlOptions) socketPath() (string, error) {
	if o.socket != "" {
		return o.socket, nil
	}
	file, _ := config.Lookup(o.config, getenv)
	cfg, err := config.Load(config.Options{Path: file, AllowMissing: true, Environ: os.Environ(), Offline: true})
	switch {
	case cfg != nil && cfg.Control.Socket != "":
		return cfg.Control.Socket, nil
	case err == nil && cfg != nil:
		return "", exitWith(ExitUnreachable, fmt.Errorf("cannot reach phpinit: the control socket is disabled (control.socket is empty in %s)", orNone(cfg.File)))
	}
	return config.Defaults().Control.Socket, nil
}

// writeStatus prints the status table documented in ctlLong.
func writeStatus(w io.Writer, sn *supervisor.Snapshot, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range sn.Programs {
		pid, uptime := "-", "-"
		if p.PID > 0 {
			pid = fmt.Sprint(p.PID)
			if !p.Started.IsZero() {
				uptime = clock(now.Sub(p.Started))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\tpid %s\tuptime %s\trestarts %d\t%s\t%s\n",
			p.Name, p.State, pid, uptime, p.Restarts, lastExit(p.LastExit, now), statusTail(p, now))
	}
	return tw.Flush()
}

// maxDesc caps an exit description in the status table, in runes.
const maxDesc = 40

func lastExit(e *supervisor.ExitInfo, now time.Time) string {
	if e == nil {
		return "last exit -"
	}
	s := fmt.Sprintf("last exit %d", e.Code)
	// Desc repeats the code for a plain exit; a signal or a failed exec
	// says more. A spawn error may hold tabs or newlines, and be long: one
	// line, capped so one program does not widen everyone's column
	// (--json has it whole).
	desc := strings.Join(strings.Fields(e.Desc), " ")
	if r := []rune(desc); len(r) > maxDesc {
		desc = string(r[:maxDesc-1]) + "…"
	}
	if desc != fmt.Sprintf("exit status %d", e.Code) && desc != "" {
		s += " (" + desc + ")"
	}
	return s + " " + ago(now.Sub(e.Time)) + " ago"
}

func lastReload(r *supervisor.ReloadInfo, now time.Time) string {
	if r == nil {
		return "reload -"
	}
	return "reload " + r.Result + " " + ago(now.Sub(r.Time)) + " ago"
}

// clock is an uptime as H:MM:SS, hours unbounded so it stays one word.
func clock(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// ago is a short age in its two largest units: 12s, 3m4s, 2h5m, 3d4h.
func ago(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s/60%60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s/3600%24)
}
