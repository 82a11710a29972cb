package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/phpinit/phpinit/internal/supervisord"
)

// Notice is something reading a supervisord file found that is not an
// error: a section or key phpinit ignores or maps loosely (Level "info"),
// an unknown key (Level "warn").
type Notice struct {
	// Level is "info" or "warn".
	Level string
	// Where is "FILE:LINE".
	Where string
	// Program is the [program:x] name, "" outside one.
	Program string
	// Key is the supervisord key ("" for a whole section).
	Key string
	Msg string
}

func (n Notice) String() string {
	s := n.Where + ": "
	if n.Program != "" {
		s += "[program:" + n.Program + "] "
	}
	if n.Key != "" {
		s += n.Key + ": "
	}
	return s + n.Msg
}

// Imported is what FromSupervisord read.
type Imported struct {
	// Programs in phpinit's terms, before numprocs copies are made, in
	// file order.
	Programs []*Program
	// Notices are ignored sections and keys, and unknown keys.
	Notices []Notice
	// Files are every file read, includes included.
	Files []string
}

// FromSupervisord reads supervisord files (following [include] files=);
// environ gives %(ENV_X)s. The error is nil or a *multierror.Error of
// *FieldError whose File is "FILE:LINE".
func FromSupervisord(paths, environ []string) (*Imported, error) {
	res, perr := supervisord.Parse(paths, environ)
	var errs []*FieldError
	var me *multierror.Error
	if errors.As(perr, &me) {
		for _, e := range me.Errors {
			se := e.(*supervisord.Error)
			key := se.Key
			if se.Section != "" {
				key = strings.TrimSpace("[" + se.Section + "] " + key)
			}
			errs = append(errs, &FieldError{File: se.Where(), Key: key, Msg: se.Msg})
		}
	}
	var notices []Notice
	for _, n := range res.Notices {
		prog, _ := strings.CutPrefix(n.Section, "program:")
		if prog == n.Section {
			prog = ""
		}
		msg := n.Msg
		if prog == "" && n.Section != "" {
			msg = "[" + n.Section + "] " + msg
		}
		notices = append(notices, Notice{Level: n.Level, Where: where(n.File, n.Line),
			Program: prog, Key: n.Key, Msg: msg})
	}
	im := &Imported{Files: res.Files}
	seen := map[string]string{}
	for _, sp := range res.Programs {
		c := &converter{sp: sp}
		p := c.program()
		errs = append(errs, c.errs...)
		notices = append(notices, c.notices...)
		if first, ok := seen[p.Name]; ok {
			errs = append(errs, definedTwice(p, first))
			continue
		}
		seen[p.Name] = p.Source
		im.Programs = append(im.Programs, p)
	}
	im.Notices = notices
	if len(errs) == 0 {
		return im, nil
	}
	out := &multierror.Error{ErrorFormat: lines}
	for _, e := range errs {
		out.Errors = append(out.Errors, e)
	}
	return im, out
}

func where(file string, line int) string {
	if line > 0 {
		return file + ":" + strconv.Itoa(line)
	}
	return file
}

// converter maps one supervisord program onto a phpinit Program: keys
// phpinit honours or maps are set, keys it ignores become notices, and
// values it cannot honour are errors at their line.
type converter struct {
	sp      *supervisord.Program
	errs    []*FieldError
	notices []Notice
}

func (c *converter) at(key string) string {
	if l, ok := c.sp.Lines[key]; ok {
		return where(c.sp.File, l)
	}
	return where(c.sp.File, c.sp.Line)
}

func (c *converter) fail(key, msg string) {
	c.errs = append(c.errs, &FieldError{File: c.at(key), Key: "[program:" + c.sp.Name + "] " + key, Msg: msg})
}

func (c *converter) note(key, msg string) {
	c.notices = append(c.notices, Notice{Level: "info", Where: c.at(key), Program: c.sp.Name, Key: key, Msg: msg})
}

func (c *converter) program() *Program {
	sp := c.sp
	p := defaultProgram(sp.Name)
	critical, autostart, retries := false, sp.Autostart, sp.StartRetries
	p.Source = where(sp.File, sp.Line)
	p.Critical, p.Autostart, p.StartRetries = &critical, &autostart, &retries
	p.Command, p.Directory, p.User, p.Environment = sp.Command, sp.Directory, sp.User, sp.Environment
	p.NumProcs, p.NumProcsStart = sp.NumProcs, sp.NumProcsStart
	if sp.Set("process_name") {
		p.ProcessName = sp.ProcessName
	}
	p.ProcessGroup = sp.Group
	// "" after a value supervisord rejects, which Parse reported.
	p.Autorestart = map[string]string{"true": "always", "false": "never", "unexpected": "unexpected", "": "unexpected"}[sp.Autorestart]
	p.ExitCodes = sp.ExitCodes
	p.StartSeconds = time.Duration(sp.StartSecs) * time.Second
	p.Priority = sp.Priority
	if sig, err := ParseSignal(sp.StopSignal); err != nil {
		c.fail("stopsignal", err.Error())
	} else {
		p.StopSignal = Signal(sig)
	}
	c.stop(p)
	if sp.Set("umask") {
		c.fail("umask", "phpinit has no umask: programs keep phpinit's; remove the key or set it in the command (sh -c 'umask "+sp.Umask+"; exec ...')")
	}
	for _, k := range sortedKeys(sp.Ignored) {
		why := "phpinit has no event listeners"
		if k == "serverurl" {
			why = "phpinit has no XML-RPC interface; use phpinit ctl"
		}
		c.note(k, "ignored: "+why)
	}
	c.logs(p)
	return p
}

// stop maps stopwaitsecs, stopasgroup and killasgroup.
func (c *converter) stop(p *Program) {
	sp := c.sp
	if sp.Set("stopwaitsecs") {
		p.StopTimeout = time.Duration(sp.StopWaitSecs) * time.Second
		if sp.StopWaitSecs == 0 {
			c.fail("stopwaitsecs", "0 is not supported: phpinit's stop_timeout must be positive")
		}
		if p.StopTimeout > 9*time.Second {
			c.note("stopwaitsecs", "shutdown.grace (default 9s) bounds every stop: raise it too, and docker stop -t or terminationGracePeriodSeconds")
		}
	}
	p.StopAsGroup = sp.StopAsGroup
	if sp.Set("killasgroup") && !sp.KillAsGroup {
		c.note("killasgroup", "phpinit always sends SIGKILL to the whole process group")
	}
}

// inheritPaths are the files that mean "the container's stdout/stderr": they map
// to the default sink ("", inherit, or json with log.format json).
var inheritPaths = [2][]string{
	{"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"},
	{"/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"},
}

// logs maps stdout_logfile and stderr_logfile (and redirect_stderr).
func (c *converter) logs(p *Program) {
	sp := c.sp
	p.Stdout, p.StdoutMaxSize, p.StdoutBackups = c.sink("stdout", 0, sp.Stdout, p.StdoutMaxSize, p.StdoutBackups)
	if sp.RedirectStderr {
		p.Stderr, p.StderrMaxSize, p.StderrBackups = p.Stdout, p.StdoutMaxSize, p.StdoutBackups
		if p.Stdout == "" {
			c.note("redirect_stderr", "stderr goes to phpinit's stderr, not merged into stdout")
		}
		if sp.Set("stderr_logfile") {
			c.note("stderr_logfile", "ignored: redirect_stderr is true")
		}
		return
	}
	p.Stderr, p.StderrMaxSize, p.StderrBackups = c.sink("stderr", 1, sp.Stderr, p.StderrMaxSize, p.StderrBackups)
}

func (c *converter) sink(stream string, fd int, l supervisord.Log, size ByteSize, backups int) (string, ByteSize, int) {
	key := stream + "_logfile"
	if l.Syslog {
		c.fail(stream+"_syslog", "phpinit cannot send output to syslog")
		return "inherit", size, backups
	}
	switch {
	case l.File == "AUTO":
		if c.sp.Set(key) {
			c.note(key, "AUTO (a file under /tmp) becomes inherit: output goes to the container's log")
		}
		return "", size, backups
	case l.File == "NONE" || l.File == os.DevNull:
		c.note(key, l.File+" becomes discard: the program's "+stream+" is /dev/null, and phpinit logs none of it")
		return "discard", size, backups
	case slices.Contains(inheritPaths[fd], l.File):
		return "", size, backups
	case slices.Contains(inheritPaths[1-fd], l.File):
		c.note(key, fmt.Sprintf("%s becomes inherit: output goes to phpinit's %s", l.File, stream))
		return "", size, backups
	case strings.HasPrefix(l.File, "/dev/") || strings.HasPrefix(l.File, "/proc/"):
		c.fail(key, fmt.Sprintf("%q is not supported: phpinit writes logs to rotated regular files; use /dev/%s to inherit", l.File, stream))
		return "inherit", size, backups
	case !filepath.IsAbs(l.File):
		c.fail(key, fmt.Sprintf("%q is not an absolute path", l.File))
		return "inherit", size, backups
	}
	if l.MaxBytes == 0 {
		c.note(stream+"_logfile_maxbytes", "0 (never rotate) is not supported: the file rotates at 10MiB")
	} else {
		size = ByteSize(l.MaxBytes)
	}
	return l.File, size, l.Backups
}

// readSupervisord reads supervisord.include and merges its programs into
// c.Programs. A name defined twice is an error naming both places. Without
// a phpinit.yaml there is nothing to read them along with: phpinit runs a
// one-off command or nothing, and a reload (which re-reads c.File) could
// not find them again.
func (l *loader) readSupervisord(c *Config) {
	if c.File == "" || len(c.Supervisord.Include) == 0 {
		return
	}
	var files []string
	for i, g := range c.Supervisord.Include {
		if !filepath.IsAbs(g) {
			g = filepath.Join(filepath.Dir(c.File), g)
		}
		m, err := supervisord.Glob(g)
		if err != nil {
			l.p.add(fmt.Sprintf("supervisord.include[%d]", i), fmt.Sprintf("bad glob %q", g))
		}
		files = append(files, m...)
	}
	im, err := FromSupervisord(files, l.o.Environ)
	c.Notices, c.Supervisord.Files = append(c.Notices, im.Notices...), im.Files
	var me *multierror.Error
	if errors.As(err, &me) {
		for _, e := range me.Errors {
			l.p.list = append(l.p.list, e.(*FieldError))
		}
	}
	for _, p := range im.Programs {
		if old := c.Programs[p.Name]; old != nil {
			first := old.Source
			if first == "" {
				first = c.File
			}
			l.p.list = append(l.p.list, definedTwice(p, first))
			continue
		}
		c.Programs[p.Name] = p
	}
}

// definedTwice is the error for p, from a supervisord file, whose name is
// already defined at first.
func definedTwice(p *Program, first string) *FieldError {
	return &FieldError{File: p.Source, Key: "programs." + p.Name, Msg: "defined twice: in " + first + " and in " + p.Source}
}

// DefaultProgram is what phpinit.yaml gives a program that sets only its
// command, before derived defaults (on_change).
func DefaultProgram(name string) *Program { return defaultProgram(name) }
