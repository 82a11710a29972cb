// Package supervisord reads supervisord's config files the way supervisord
// does, so that the [program:x] files users drop in /data/conf/supervisord
// keep working under phpinit. It knows supervisord's syntax and defaults
// and nothing of phpinit: config turns its Programs into phpinit programs.
package supervisord

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Result is what Parse read.
type Result struct {
	// Programs in the order their sections first appear.
	Programs []*Program
	// Files are every file read, includes included, in reading order.
	Files []string
	// Notices are ignored sections and unknown keys.
	Notices []Notice
}

// Parse reads the files (following [include] files=) with environ
// (os.Environ form) for %(ENV_X)s. It returns what it could read and nil
// or a *multierror.Error of *Error naming file and line.
func Parse(paths []string, environ []string) (*Result, error) {
	p := &parser{vars: map[string]string{}, seen: map[string]bool{}, res: &Result{}}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			p.vars["ENV_"+k] = v
		}
	}
	if h, err := os.Hostname(); err == nil {
		p.vars["host_node_name"] = h
	}
	for _, path := range paths {
		p.file(path)
	}
	p.groups()
	return p.res, p.errs.err()
}

type parser struct {
	vars     map[string]string
	seen     map[string]bool
	res      *Result
	errs     errorList
	groupDef []*section
}

// ignoredSections are supervisord's own settings, which phpinit replaces.
var ignoredSections = map[string]bool{
	"supervisord": true, "unix_http_server": true, "inet_http_server": true, "supervisorctl": true,
}

func (p *parser) file(path string) {
	abs, err := filepath.Abs(path)
	if err == nil {
		path = abs
	}
	if p.seen[path] {
		return
	}
	p.seen[path] = true
	data, err := os.ReadFile(path)
	if err != nil {
		p.errs.add(path, 0, "", "cannot read file: "+unwrapPath(err))
		return
	}
	p.res.Files = append(p.res.Files, path)
	var includes []*section
	for _, s := range readINI(path, data, &p.errs) {
		kind, name, _ := strings.Cut(s.name, ":")
		switch {
		case kind == "program" && name != "":
			p.program(s, name)
		case kind == "group" && name != "":
			p.groupDef = append(p.groupDef, s)
		case s.name == "include":
			includes = append(includes, s)
		case ignoredSections[s.name] || kind == "rpcinterface":
			p.notice("info", s, "", "section ignored: phpinit replaces supervisord, its control socket and its web server")
		case kind == "fcgi-program" || kind == "eventlistener":
			p.errs.add(path, s.line, "", "["+s.name+"] is not supported by phpinit")
		default:
			p.notice("warn", s, "", "unknown section ignored")
		}
	}
	for _, s := range includes {
		p.include(s)
	}
}

// include reads [include] files=: globs separated by whitespace, relative
// to the directory of the file that names them, each match in name order.
func (p *parser) include(s *section) {
	p.errs.section = "include"
	defer func() { p.errs.section = "" }()
	for _, e := range s.keys {
		if e.key != "files" {
			p.notice("warn", s, e.key, "unknown key ignored")
			continue
		}
		v, err := p.expandIn(s, e.value)
		if err != nil {
			p.errs.addf(e, s.file, "%v", err)
			continue
		}
		for _, glob := range strings.Fields(v) {
			if !filepath.IsAbs(glob) {
				glob = filepath.Join(filepath.Dir(s.file), glob)
			}
			matches, err := Glob(glob)
			if err != nil {
				p.errs.addf(e, s.file, "bad glob %q", glob)
				continue
			}
			if len(matches) == 0 {
				p.res.Notices = append(p.res.Notices, Notice{Level: "info", File: s.file, Line: e.line,
					Section: "include", Key: "files", Msg: "no file matches " + quote(glob)})
			}
			sort.Strings(matches)
			for _, m := range matches {
				p.file(m)
			}
		}
	}
}

// groups applies [group:x] programs=a,b: their processes' group_name is x.
func (p *parser) groups() {
	byName := map[string]*Program{}
	for _, pr := range p.res.Programs {
		byName[pr.Name] = pr
	}
	inGroup := map[string]string{}
	for _, s := range p.groupDef {
		group := strings.TrimPrefix(s.name, "group:")
		p.errs.section = s.name
		for _, e := range s.keys {
			switch e.key {
			case "programs":
				p.groupPrograms(s, e, group, byName, inGroup)
			case "priority":
				if _, err := parseInt(e.value, 0); err != nil {
					p.errs.addf(e, s.file, "%v", err)
				}
			default:
				p.notice("warn", s, e.key, "unknown key ignored")
			}
		}
		if _, ok := s.get("programs"); !ok {
			p.errs.add(s.file, s.line, "programs", "required")
		}
	}
	p.errs.section = ""
}

func (p *parser) groupPrograms(s *section, e entry, group string, byName map[string]*Program, inGroup map[string]string) {
	v, err := p.expandIn(s, e.value)
	if err != nil {
		p.errs.addf(e, s.file, "%v", err)
		return
	}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		pr := byName[name]
		switch {
		case name == "":
		case pr == nil:
			p.errs.addf(e, s.file, "no [program:%s]", name)
		case inGroup[name] != "":
			p.errs.addf(e, s.file, "program %q is already in [group:%s]", name, inGroup[name])
		default:
			inGroup[name], pr.Group = group, group
		}
	}
}

func (p *parser) notice(level string, s *section, key, msg string) {
	line := s.line
	if e, ok := s.get(key); ok {
		line = e.line
	}
	p.res.Notices = append(p.res.Notices, Notice{Level: level, File: s.file, Line: line, Section: s.name, Key: key, Msg: msg})
}

// expandIn expands a value of section s: %(here)s is its file's directory.
func (p *parser) expandIn(s *section, v string) (string, error) {
	p.vars["here"] = filepath.Dir(s.file)
	return expand(v, p.vars)
}

func unwrapPath(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// Glob is filepath.Glob as Python's glob (which supervisord uses) matches:
// a wildcard does not match a leading ".", so "*" skips Kubernetes'
// ..data and ..TIMESTAMP entries. Directories are left out; the matches
// are sorted.
func Glob(pattern string) ([]string, error) {
	all, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	dotted := strings.HasPrefix(filepath.Base(pattern), ".")
	var out []string
	for _, m := range all {
		if strings.HasPrefix(filepath.Base(m), ".") && !dotted {
			continue
		}
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			continue
		}
		out = append(out, m)
	}
	sort.Strings(out)
	return out, nil
}
