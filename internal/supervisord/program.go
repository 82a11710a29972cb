package supervisord

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Program is one [program:x] with supervisord's defaults for what it
// leaves out. Values are expanded except the per-process expansions
// (%(process_num)02d and the like), which stay for each copy to fill in.
type Program struct {
	// Name is x of [program:x].
	Name string
	// Group is the [group:g] that lists the program, else "" (supervisord
	// then uses the program's name).
	Group string
	// File and Line locate the section header.
	File string
	Line int
	// Lines maps each key the section sets to its line.
	Lines map[string]int
	// Ignored are the keys phpinit has no use for, with their values.
	Ignored map[string]string

	Command        []string
	NumProcs       int    // default 1
	NumProcsStart  int    // default 0
	ProcessName    string // default "%(program_name)s"
	Directory      string
	User           string
	Environment    map[string]string
	Umask          string // "" when not set
	Autostart      bool   // default true
	Autorestart    string // "true", "false" or "unexpected" (default)
	ExitCodes      []int  // default [0]
	StartSecs      int    // seconds; default 1
	StartRetries   int    // default 3
	StopSignal     string // a name without SIG or a number; default "TERM"
	StopWaitSecs   int    // seconds; default 10
	StopAsGroup    bool
	KillAsGroup    bool // default StopAsGroup
	Priority       int  // default 999; lower starts first
	RedirectStderr bool
	Stdout, Stderr Log
}

// Log is one of stdout_logfile/stderr_logfile and its settings.
type Log struct {
	// File is a path, "AUTO" (the default) or "NONE".
	File     string
	MaxBytes int64 // default 50MB; 0 means no rotation
	Backups  int   // default 10
	Syslog   bool
}

// Set reports whether the section sets key.
func (p *Program) Set(key string) bool { _, ok := p.Lines[key]; return ok }

// ignoredKeys are [program:x] keys about supervisord's event listeners and
// its own control socket.
var ignoredKeys = map[string]bool{
	"stdout_capture_maxbytes": true, "stderr_capture_maxbytes": true,
	"stdout_events_enabled": true, "stderr_events_enabled": true, "serverurl": true,
}

func (p *parser) program(s *section, name string) {
	pr := &Program{
		Name: name, File: s.file, Line: s.line, Lines: map[string]int{}, Ignored: map[string]string{},
		NumProcs: 1, ProcessName: "%(program_name)s", Autostart: true, Autorestart: "unexpected",
		ExitCodes: []int{0}, StartSecs: 1, StartRetries: 3, StopSignal: "TERM", StopWaitSecs: 10,
		Priority: 999,
		Stdout:   Log{File: "AUTO", MaxBytes: 50 << 20, Backups: 10},
		Stderr:   Log{File: "AUTO", MaxBytes: 50 << 20, Backups: 10},
	}
	p.errs.section = s.name
	defer func() { p.errs.section = "" }()
	killSet := false
	// The program's environment= is read first: supervisord adds its
	// variables to the %(ENV_X)s expansions of the other keys.
	keys := slices.Clone(s.keys)
	rank := func(e entry) int {
		if e.key == "environment" {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(keys, func(a, b entry) int { return rank(a) - rank(b) })
	vars := maps.Clone(p.vars)
	vars["here"] = filepath.Dir(s.file)
	for _, e := range keys {
		v, err := expand(e.value, vars)
		if err != nil {
			p.errs.addf(e, s.file, "%v", err)
			continue
		}
		pr.Lines[e.key] = e.line
		if err := pr.set(e.key, v); err != nil {
			if err == errUnknownKey {
				delete(pr.Lines, e.key)
				p.notice("warn", s, e.key, "unknown key ignored")
				continue
			}
			p.errs.addf(e, s.file, "%v", err)
		}
		killSet = killSet || e.key == "killasgroup"
		if e.key == "environment" {
			for k, v := range pr.Environment {
				vars["ENV_"+k] = v
			}
		}
	}
	if !killSet {
		pr.KillAsGroup = pr.StopAsGroup
	}
	if pr.StopAsGroup && !pr.KillAsGroup {
		p.errs.add(s.file, pr.Lines["killasgroup"], "killasgroup", "cannot set stopasgroup=true and killasgroup=false")
	}
	if _, ok := s.get("command"); !ok {
		p.errs.add(s.file, s.line, "command", "required")
	}
	if pr.NumProcs > 1 && !strings.Contains(pr.ProcessName, "%(process_num)") {
		p.errs.add(s.file, lineOr(pr, "process_name", lineOr(pr, "numprocs", s.line)), "process_name",
			"%(process_num) must be present within process_name when numprocs > 1")
	}
	p.res.Programs = append(p.res.Programs, pr)
}

func lineOr(pr *Program, key string, def int) int {
	if l, ok := pr.Lines[key]; ok {
		return l
	}
	return def
}

var errUnknownKey = fmt.Errorf("unknown key")

// set stores one key's expanded value, with supervisord's checks.
func (pr *Program) set(key, v string) (err error) {
	switch key {
	case "command":
		pr.Command, err = splitCommand(v)
		if err == nil && len(pr.Command) == 0 {
			err = fmt.Errorf("empty command")
		}
	case "numprocs":
		pr.NumProcs, err = parseInt(v, 1)
	case "numprocs_start":
		pr.NumProcsStart, err = parseInt(v, 0)
	case "process_name":
		pr.ProcessName = v
	case "directory":
		pr.Directory = v
	case "user":
		pr.User = v
	case "umask":
		pr.Umask = v
		_, err = strconv.ParseUint(v, 8, 32)
		if err != nil {
			err = fmt.Errorf("%q is not an octal umask", v)
		}
	case "environment":
		pr.Environment, err = parseEnvironment(v)
	case "autostart":
		pr.Autostart, err = parseBool(v)
	case "autorestart":
		pr.Autorestart, err = parseAutorestart(v)
	case "exitcodes":
		pr.ExitCodes, err = parseExitCodes(v)
	case "startsecs":
		pr.StartSecs, err = parseInt(v, 0)
	case "startretries":
		pr.StartRetries, err = parseInt(v, 0)
	case "stopsignal":
		pr.StopSignal = strings.TrimPrefix(strings.ToUpper(v), "SIG")
	case "stopwaitsecs":
		pr.StopWaitSecs, err = parseInt(v, 0)
	case "stopasgroup":
		pr.StopAsGroup, err = parseBool(v)
	case "killasgroup":
		pr.KillAsGroup, err = parseBool(v)
	case "priority":
		pr.Priority, err = parseInt(v, -1<<31)
	case "redirect_stderr":
		pr.RedirectStderr, err = parseBool(v)
	default:
		if ignoredKeys[key] {
			pr.Ignored[key] = v
			return nil
		}
		if stream, k, ok := strings.Cut(key, "_"); ok && (stream == "stdout" || stream == "stderr") {
			l := &pr.Stdout
			if stream == "stderr" {
				l = &pr.Stderr
			}
			return l.set(k, v)
		}
		return errUnknownKey
	}
	return err
}

func (l *Log) set(key, v string) (err error) {
	switch key {
	case "logfile":
		// supervisord's logfile_name(): none/off, auto and syslog in any case.
		switch strings.ToLower(v) {
		case "none", "off":
			l.File = "NONE"
		case "auto":
			l.File = "AUTO"
		case "syslog":
			l.File, l.Syslog = "NONE", true
		default:
			l.File = v
		}
	case "logfile_maxbytes":
		l.MaxBytes, err = parseByteSize(v)
	case "logfile_backups":
		l.Backups, err = parseInt(v, 0)
	case "syslog":
		l.Syslog, err = parseBool(v)
	default:
		return errUnknownKey
	}
	return err
}

func parseInt(v string, least int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	if n < least {
		return 0, fmt.Errorf("must be at least %d, got %d", least, n)
	}
	return n, nil
}

// parseBool is supervisord's boolean().
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a valid boolean value", v)
}

// parseAutorestart is supervisord's auto_restart().
func parseAutorestart(v string) (string, error) {
	if strings.ToLower(v) == "unexpected" {
		return "unexpected", nil
	}
	b, err := parseBool(v)
	if err != nil {
		return "", fmt.Errorf("%q is not true, false or unexpected", v)
	}
	return strconv.FormatBool(b), nil
}

// parseExitCodes is supervisord's list_of_exitcodes().
func parseExitCodes(v string) ([]int, error) {
	var codes []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || n > 255 {
			return nil, fmt.Errorf("%q is not a list of exit codes (0 to 255, separated by commas)", v)
		}
		codes = append(codes, n)
	}
	return codes, nil
}

// parseByteSize is supervisord's byte_size(): KB, MB and GB are powers of
// 1024, any case.
func parseByteSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	mult := int64(1)
	for suffix, m := range map[string]int64{"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30} {
		if t, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = strings.TrimSpace(t), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (a byte count, or with KB, MB or GB)", v)
	}
	return n * mult, nil
}
