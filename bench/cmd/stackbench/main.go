// Command stackbench measures init systems running the same nginx + php-fpm
// site as PID 1 of a fresh PID namespace (unshare --pid --fork
// --mount-proc): start-up to the first PHP answer, memory, idle wakeups,
// orphan reaping and recovery from kill -9 of php-fpm's master. bench/run.sh
// lays out the site (bench/site.sh) and drives it; see bench/README.md.
//
//	stackbench [flags] startup INIT...   median of -runs starts each
//	stackbench [flags] idle INIT...      VmRSS and context switches per second
//	stackbench [flags] orphans INIT...   -orphans orphans reaped
//	stackbench [flags] restart INIT...   kill -9 of the php-fpm master, no traffic
//	stackbench [flags] restart_traffic INIT...  the same under 1,000 requests/s
//	stackbench [flags] load_kill9_fpm|load_restart_fpm|load_restart_nginx INIT...
//	                                     requests failed under 4 clients (load.go)
//	stackbench table FILE.jsonl          the markdown table
//
// INIT is phpinit, supervisord, s6, tini, byhand or phpinit-noprobe
// (phpinit without its readiness probe). Results are appended to -out as JSON lines;
// progress goes to stderr.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stackbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var e env
	fs.StringVar(&e.Site, "site", "", "site directory laid out by bench/site.sh")
	fs.StringVar(&e.PHPInit, "phpinit", "bin/phpinit", "phpinit binary")
	fs.IntVar(&e.Port, "port", 0, "nginx port on 127.0.0.1 (as given to site.sh)")
	fs.StringVar(&e.Logs, "logs", os.TempDir(), "directory for each run's output")
	out := fs.String("out", "", "append results to this JSON-lines file")
	var o options
	fs.IntVar(&o.runs, "runs", 10, "startup: counted starts per init (after one warm-up)")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "wait after the first PHP answer before measuring")
	fs.DurationVar(&o.window, "window", 10*time.Second, "idle: how long to count context switches and CPU time")
	fs.IntVar(&o.orphans, "orphans", 5000, "orphans: how many")
	fs.DurationVar(&o.releaseWindow, "release-window", 5*time.Second, "orphans: let them exit evenly over this long (0: all at once)")
	fs.DurationVar(&o.scanEvery, "scan-every", time.Millisecond, "orphans: pause between scans of PID 1's children")
	fs.DurationVar(&o.orphanTimeout, "orphan-timeout", 90*time.Second, "orphans: give up this long after the last orphan exited")
	fs.DurationVar(&o.restartTimeout, "restart-timeout", 30*time.Second, "restart: give up this long after the kill")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 2 {
		fmt.Fprintln(stderr, "usage: stackbench [flags] startup|idle|orphans|restart|restart_traffic INIT... | stackbench table FILE")
		return 2
	}
	what, inits := fs.Arg(0), fs.Args()[1:]
	if what == "table" {
		return table(inits[0], stdout, stderr)
	}
	if e.Site == "" || e.Port == 0 || *out == "" {
		fmt.Fprintln(stderr, "stackbench: -site, -port and -out are required")
		return 2
	}
	results, err := measure(what, e, o, inits, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stackbench:", err)
		return 1
	}
	for _, r := range results {
		fmt.Fprintf(stderr, "%-8s %-11s %s\n", r.Measure, r.Init, describe(r))
	}
	if err := appendResults(*out, results); err != nil {
		fmt.Fprintln(stderr, "stackbench:", err)
		return 1
	}
	return 0
}

// options are the benches' knobs.
type options struct {
	runs           int
	settle, window time.Duration
	orphans        int
	orphanTimeout  time.Duration
	scanEvery      time.Duration
	releaseWindow  time.Duration
	restartTimeout time.Duration
}

func measure(what string, e env, o options, inits []string, progress io.Writer) ([]Result, error) {
	one := func(fn func(string) (Result, error)) func(string) ([]Result, error) {
		return func(name string) ([]Result, error) {
			r, err := fn(name)
			return []Result{r}, err
		}
	}
	switch what {
	case "startup":
		return measureStartup(e, inits, o.runs, progress)
	case "idle":
		return each(inits, func(name string) ([]Result, error) {
			return measureIdle(e, name, o.settle, o.window)
		})
	case "orphans":
		return each(inits, one(func(name string) (Result, error) {
			return measureOrphans(e, name, o.orphans, o)
		}))
	case "restart", "restart_traffic":
		return each(inits, one(func(name string) (Result, error) {
			return measureRestart(e, name, what == "restart_traffic", o.settle, o.restartTimeout)
		}))
	case "load_kill9_fpm", "load_restart_fpm", "load_restart_nginx":
		return each(inits, one(func(name string) (Result, error) {
			return measureRestartLoad(e, name, what, o.settle, o.restartTimeout)
		}))
	}
	return nil, fmt.Errorf("unknown measurement %q", what)
}

func each(inits []string, fn func(string) ([]Result, error)) ([]Result, error) {
	var all []Result
	for _, name := range inits {
		rs, err := fn(name)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	return all, nil
}

func appendResults(path string, rs []Result) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open results: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return fmt.Errorf("cannot write results: %w", err)
		}
	}
	return f.Close()
}
