package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var programName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// validate checks what can be checked without looking at the machine.
func (l *loader) validate(c *Config) {
	l.oneOf("log.format", c.Log.Format, "text", "json")
	l.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	l.oneOf("hooks.on_error", c.Hooks.OnError, "abort", "continue")
	l.notNegative("hooks.timeout", c.Hooks.Timeout)
	l.positive("shutdown.grace", c.Shutdown.Grace)
	l.notNegative("shutdown.drain", c.Shutdown.Drain)
	l.notNegative("watch.debounce", c.Watch.Debounce)
	l.notNegative("watch.poll_interval", c.Watch.PollInterval)
	l.count("watch.max_files", c.Watch.MaxFiles, 0)
	if l.o.RequirePrograms && len(c.Programs) == 0 {
		l.p.add("programs", "no programs configured: phpinit refuses a config without programs (an emptied file?)")
	}
	if c.HTTP.Listen != "" && !isHostPort(c.HTTP.Listen, 0) {
		l.p.add("http.listen", fmt.Sprintf("%q is not host:port", c.HTTP.Listen))
	}
	l.count("http.max_connections", c.HTTP.MaxConnections, 1)
	pools := map[string]bool{}
	for i, ps := range c.Metrics.PHPFPM {
		key := fmt.Sprintf("metrics.phpfpm[%d]", i)
		l.socketAddress(key+".address", ps.Address)
		l.urlPath(key+".path", ps.Path)
		if p, ok := strings.CutPrefix(ps.Listen, "unix://"); ps.Listen != "" && (!ok || !filepath.IsAbs(p)) {
			l.p.add(key+".listen", fmt.Sprintf("%q is not unix:///absolute/path", ps.Listen))
		}
		if ps.Pool != "" && pools[ps.Pool] {
			l.p.add(key+".pool", fmt.Sprintf("pool %q is named twice", ps.Pool))
		}
		pools[ps.Pool] = true
	}
	if c.Metrics.Nginx != "" {
		l.httpURL("metrics.nginx", c.Metrics.Nginx)
	}
	for _, name := range sortedKeys(c.Programs) {
		l.validateProgram(c, name, c.Programs[name])
	}
	l.duplicateSockets(c)
	for _, cycle := range cycles(c.Programs) {
		l.p.add("programs."+cycle[0]+".depends_on",
			"dependency cycle "+strings.Join(append(cycle, cycle[0]), " -> "))
	}
}

func (l *loader) validateProgram(c *Config, name string, p *Program) {
	key := "programs." + name
	defer l.p.at(p.Source)()
	if !programName.MatchString(name) {
		l.p.add(key, `invalid program name: use letters, digits, "_", "." and "-", starting with a letter or digit`)
	}
	l.argv(key+".command", p.Command, true)
	l.oneOf(key+".autorestart", p.Autorestart, "always", "on-failure", "never", "unexpected")
	l.oneOf(key+".on_change", p.OnChange, "reload", "restart")
	if p.OnChange == "reload" && p.ReloadSignal == 0 {
		l.p.add(key+".on_change", "on_change reload needs reload_signal")
	}
	l.notNegative(key+".start_seconds", p.StartSeconds)
	if p.StartRetries != nil && *p.StartRetries < 0 {
		l.p.add(key+".start_retries", fmt.Sprintf("must not be negative, got %d", *p.StartRetries))
	}
	l.positive(key+".backoff.initial", p.Backoff.Initial)
	if p.Backoff.Max < p.Backoff.Initial {
		l.p.add(key+".backoff.max", fmt.Sprintf("%s is less than backoff.initial %s", p.Backoff.Max, p.Backoff.Initial))
	}
	if p.StopSignal == 0 {
		l.p.add(key+".stop_signal", "required")
	}
	l.positive(key+".stop_timeout", p.StopTimeout)
	l.sink(key+".stdout", p.Stdout)
	l.sink(key+".stderr", p.Stderr)
	l.count(key+".stdout_backups", p.StdoutBackups, 0)
	l.count(key+".stderr_backups", p.StderrBackups, 0)
	l.programLists(c, name, p)
	l.validateCopies(key, p)
	l.validateSchedule(c, name, p)
	l.probe(key+".ready", p.Ready)
	l.probe(key+".live", p.Live)
	l.programSockets(name, p)
	if p.Ready != nil {
		l.notNegative(key+".ready.start_timeout", p.Ready.StartTimeout)
	}
	if p.Live != nil && p.Live.StartTimeout != 0 {
		l.p.add(key+".live.start_timeout", "only a ready probe has a start timeout")
	}
}

// programLists checks the keys that hold lists and maps.
func (l *loader) programLists(c *Config, name string, p *Program) {
	key := "programs." + name
	for _, cp := range p.Capabilities {
		if _, ok := CapabilityNumber(cp); !ok {
			l.p.add(key+".capabilities", fmt.Sprintf("unknown capability %q", cp))
		}
	}
	for _, d := range p.DependsOn {
		switch {
		case d == name:
			l.p.add(key+".depends_on", "depends on itself")
		case c.Programs[d] == nil:
			l.p.add(key+".depends_on", fmt.Sprintf("unknown program %q", d))
		}
	}
	l.argv(key+".check", p.Check, false)
	for i, w := range p.Watch {
		l.absolute(fmt.Sprintf("%s.watch[%d]", key, i), w)
	}
	for i, d := range p.RuntimeDirectory {
		l.absolute(fmt.Sprintf("%s.runtime_directory[%d]", key, i), d)
	}
	for k := range p.Environment {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			l.p.add(key+".environment."+k, fmt.Sprintf("invalid variable name %q", k))
		}
	}
}

func (l *loader) probe(key string, p *Probe) {
	if p == nil {
		return
	}
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"fastcgi", p.FastCGI != ""}, {"http", p.HTTP != ""}, {"tcp", p.TCP != ""}, {"exec", len(p.Exec) > 0}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	switch len(kinds) {
	case 0:
		l.p.add(key, "needs one of fastcgi, http, tcp or exec")
	case 1:
	default:
		l.p.add(key, "has "+strings.Join(kinds, " and ")+"; set exactly one")
	}
	if p.FastCGI != "" {
		l.socketAddress(key+".fastcgi", p.FastCGI)
		l.urlPath(key+".path", p.Path)
	}
	if p.HTTP != "" {
		l.httpURL(key+".http", p.HTTP)
		if p.ExpectStatus < 100 || p.ExpectStatus > 599 {
			l.p.add(key+".expect_status", fmt.Sprintf("%d is not an HTTP status", p.ExpectStatus))
		}
	}
	if p.TCP != "" && !isHostPort(p.TCP, 1) {
		l.p.add(key+".tcp", fmt.Sprintf("%q is not host:port", p.TCP))
	}
	l.argv(key+".exec", p.Exec, false)
	l.positive(key+".interval", p.Interval)
	l.positive(key+".timeout", p.Timeout)
	l.count(key+".failure_threshold", p.FailureThreshold, 1)
	l.count(key+".success_threshold", p.SuccessThreshold, 1)
}

func (l *loader) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	last := len(allowed) - 1
	l.p.add(key, fmt.Sprintf("%q is not %s or %s", v, strings.Join(allowed[:last], ", "), allowed[last]))
}

func (l *loader) notNegative(key string, d time.Duration) {
	if d < 0 {
		l.p.add(key, fmt.Sprintf("must not be negative, got %s", d))
	}
}

func (l *loader) positive(key string, d time.Duration) {
	if d <= 0 {
		l.p.add(key, fmt.Sprintf("must be positive, got %s", d))
	}
}

func (l *loader) count(key string, n, least int) {
	if n < least {
		l.p.add(key, fmt.Sprintf("must be at least %d, got %d", least, n))
	}
}

// argv checks a command line; required says whether it may be absent.
func (l *loader) argv(key string, argv []string, required bool) {
	switch {
	case len(argv) == 0 && required:
		l.p.add(key, "required")
	case len(argv) > 0 && argv[0] == "":
		l.p.add(key, "argv[0] is empty")
	}
}

// sink checks stdout/stderr: a file sink needs an absolute path because
// phpinit's working directory is not the program's.
func (l *loader) sink(key, v string) {
	switch v {
	case "inherit", "prefix", "json", "discard":
		return
	}
	if !filepath.IsAbs(v) {
		l.p.add(key, fmt.Sprintf("%q is not inherit, prefix, json, discard or an absolute path", v))
	}
}

func (l *loader) absolute(key, path string) {
	if !filepath.IsAbs(path) {
		l.p.add(key, fmt.Sprintf("%q is not an absolute path", path))
	}
}

// socketAddress checks a FastCGI address: unix:///abs/path or tcp://host:port.
func (l *loader) socketAddress(key, v string) {
	if p, ok := strings.CutPrefix(v, "unix://"); ok && filepath.IsAbs(p) {
		return
	}
	if hp, ok := strings.CutPrefix(v, "tcp://"); ok && isHostPort(hp, 1) {
		return
	}
	l.p.add(key, fmt.Sprintf("%q is not unix:///absolute/path or tcp://host:port", v))
}

func (l *loader) urlPath(key, v string) {
	if !strings.HasPrefix(v, "/") {
		l.p.add(key, fmt.Sprintf("%q does not start with /", v))
	}
}

func (l *loader) httpURL(key, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.p.add(key, fmt.Sprintf("%q is not an http or https URL", v))
	}
}

// isHostPort accepts host:port with a numeric port from least to 65535;
// the host may be empty (all addresses).
func isHostPort(s string, least int) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= least && n <= 65535
}
