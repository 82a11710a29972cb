package healthcheck

import (
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/version"
	"github.com/phpinit/phpinit/supervisor"
)

// Label values that are always exposed, zeros included, so that rate() and
// alerts see a series from the first scrape on.
var (
	exitReasons   = []string{"success", "failure", "signal"}
	reloadResults = []string{supervisor.ReloadOK, supervisor.ReloadCheckFailed, supervisor.ReloadSignalFailed}
	configResults = []string{"ok", "invalid"}
	runResults    = []string{supervisor.RunOK, supervisor.RunFailed, supervisor.RunSkipped}
)

// phpinitCollector builds the phpinit_* metrics at scrape time from the
// supervisor's snapshot and the counters the app hands in (node_exporter
// style: const metrics). Only the CPU counters are kept between scrapes,
// because a process tree's time alone can fall (cpuTotals).
type phpinitCollector struct {
	source        Source
	logDrops      func() []logsink.Drop
	configReloads func() map[string]uint64
	watchErrors   func() uint64
	hooks         []hooks.HookDuration
	proc          procFS
	log           *slog.Logger
	cpuTotals     cpuTotals

	up, state, restarts, exits, startTime, ready, cpu, rss, pss *prometheus.Desc
	reloads, configReloadsDesc, orphans, logDropped             *prometheus.Desc
	hookDuration, buildInfo, watchErrorsDesc                    *prometheus.Desc
	scheduleRuns                                                *prometheus.Desc
}

func newPHPInitCollector(o ServerOptions) *phpinitCollector {
	prog := []string{"program"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("phpinit_"+name, help, labels, nil)
	}
	return &phpinitCollector{
		source:        o.Source,
		logDrops:      o.LogDrops,
		configReloads: o.ConfigReloads,
		watchErrors:   o.WatchErrors,
		hooks:         o.Hooks,
		proc:          o.proc,
		log:           o.Logger,
		cpuTotals:     cpuTotals{m: map[string]*cpuTotal{}},

		up:        d("program_up", "1 when the program is RUNNING.", prog...),
		state:     d("program_state", "1 for the program's current state, 0 for the others.", "program", "state"),
		restarts:  d("program_restarts_total", "Starts of the program after its first.", prog...),
		exits:     d("program_exits_total", "Exits of the program's main process, by reason (success, failure, signal).", "program", "reason"),
		startTime: d("program_start_time_seconds", "Unix time the program's current (or last) process started.", prog...),
		ready:     d("program_ready", "1 when the program is RUNNING and ready (probe passed or start_seconds elapsed).", prog...),
		cpu: d("program_cpu_seconds_total",
			"User and system CPU time of the program's processes since phpinit started, reaped children and earlier runs included.", prog...),
		rss:     d("program_memory_rss_bytes", "Resident memory of the program's current process tree, summed (shared pages count in every process).", prog...),
		pss:     d("program_memory_pss_bytes", "Proportional set size of the program's current process tree (shared pages divided among their sharers).", prog...),
		reloads: d("reloads_total", "Program reloads, by result (ok, check_failed, signal_failed).", "program", "result"),
		configReloadsDesc: d("config_reloads_total",
			"Reloads of phpinit's own config, by result (ok, invalid).", "result"),
		orphans:      d("orphans_reaped_total", "Orphaned processes phpinit reaped as subreaper."),
		logDropped:   d("log_lines_dropped_total", "Lines of program output dropped because their destination stalled or failed.", "program", "stream"),
		hookDuration: d("hook_duration_seconds", "How long each startup hook ran.", "hook"),
		buildInfo:    d("build_info", "phpinit's version and the Go version that built it; always 1.", "version", "goversion"),
		watchErrorsDesc: d("watch_errors_total",
			"Failures of the config watcher (inotify limits and errors); each makes it poll instead."),
		scheduleRuns: d("schedule_runs_total",
			"Runs of a scheduled program by result: ok (exit 0), failed, skipped (a tick while the last run lasted).", "program", "result"),
	}
}

func (c *phpinitCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.up, c.state, c.restarts, c.exits, c.startTime, c.ready, c.cpu, c.rss, c.pss,
		c.reloads, c.configReloadsDesc, c.orphans, c.logDropped, c.hookDuration, c.buildInfo,
		c.watchErrorsDesc, c.scheduleRuns,
	} {
		ch <- d
	}
}

func (c *phpinitCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, version.Version, version.GoVersion())
	if sn := c.source.Snapshot(); sn != nil {
		c.collectPrograms(ch, sn)
		ch <- prometheus.MustNewConstMetric(c.orphans, prometheus.CounterValue, float64(sn.OrphansReaped))
	}
	var reloads map[string]uint64
	if c.configReloads != nil {
		reloads = c.configReloads()
	}
	for _, r := range withKeys(configResults, reloads) {
		ch <- prometheus.MustNewConstMetric(c.configReloadsDesc, prometheus.CounterValue, float64(reloads[r]), r)
	}
	if c.logDrops != nil {
		for _, d := range c.logDrops() {
			ch <- prometheus.MustNewConstMetric(c.logDropped, prometheus.CounterValue, float64(d.Lines), d.Program, d.Stream)
		}
	}
	if c.watchErrors != nil {
		ch <- prometheus.MustNewConstMetric(c.watchErrorsDesc, prometheus.CounterValue, float64(c.watchErrors()))
	}
	for _, h := range c.hooks {
		ch <- prometheus.MustNewConstMetric(c.hookDuration, prometheus.GaugeValue, h.Duration.Seconds(), h.Hook)
	}
}

func (c *phpinitCollector) collectPrograms(ch chan<- prometheus.Metric, sn *supervisor.Snapshot) {
	procs := c.readProcs(sn)
	for _, p := range sn.Programs {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, boolValue(p.State == supervisor.Running.String()), p.Name)
		for _, s := range supervisor.States() {
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, boolValue(p.State == s.String()), p.Name, s.String())
		}
		if sc := p.Schedule; sc != nil {
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, boolValue(p.State == supervisor.StateScheduled), p.Name, supervisor.StateScheduled)
			for _, r := range withKeys(runResults, sc.Runs) {
				ch <- prometheus.MustNewConstMetric(c.scheduleRuns, prometheus.CounterValue, float64(sc.Runs[r]), p.Name, r)
			}
		}
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, boolValue(p.Ready), p.Name)
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(p.Restarts), p.Name)
		for _, r := range withKeys(exitReasons, p.Exits) {
			ch <- prometheus.MustNewConstMetric(c.exits, prometheus.CounterValue, float64(p.Exits[r]), p.Name, r)
		}
		for _, r := range withKeys(reloadResults, p.Reloads) {
			ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(p.Reloads[r]), p.Name, r)
		}
		if !p.Started.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.startTime, prometheus.GaugeValue, unixSeconds(p.Started), p.Name)
		}
		c.collectUsage(ch, procs, p)
	}
}

// collectUsage exports CPU and memory of p's process tree; the CPU counter
// goes on while p is down.
func (c *phpinitCollector) collectUsage(ch chan<- prometheus.Metric, procs *procTable, p supervisor.ProgramStatus) {
	var u treeUsage
	ok := procs != nil && p.PID > 0
	if ok {
		u, ok = procs.usage(p.PID)
	}
	if ok {
		ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, float64(u.RSSBytes), p.Name)
		if u.HasPSS {
			ch <- prometheus.MustNewConstMetric(c.pss, prometheus.GaugeValue, float64(u.PSSBytes), p.Name)
		}
	}
	if v, known := c.cpuTotals.add(p.Name, p.PID, u.CPUSeconds, ok); known {
		ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, v, p.Name)
	}
}

// readProcs scans /proc once per scrape, and only when some program runs.
func (c *phpinitCollector) readProcs(sn *supervisor.Snapshot) *procTable {
	if !slices.ContainsFunc(sn.Programs, func(p supervisor.ProgramStatus) bool { return p.PID > 0 }) {
		return nil
	}
	t, err := c.proc.readProcTable()
	if err != nil {
		c.log.Debug("cannot read process table", "err", err)
		return nil
	}
	return t
}

// withKeys is fixed followed by any other key of m, sorted: a value the
// supervisor adds later still shows up.
func withKeys(fixed []string, m map[string]uint64) []string {
	out := slices.Clone(fixed)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(fixed, k) {
			out = append(out, k)
		}
	}
	return out
}

// unixSeconds keeps whole seconds exact (UnixNano()/1e9 does not).
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
