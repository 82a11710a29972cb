package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/phpinit/phpinit/internal/supervisord"
)

// at makes the problems that follow name file (a supervisord file's
// "FILE:LINE") until the returned func restores the previous one.
func (p *problems) at(file string) func() {
	if file == "" {
		return func() {}
	}
	old := p.file
	p.file = file
	return func() { p.file = old }
}

// validateCopies checks numprocs, process_name and exitcodes.
func (l *loader) validateCopies(key string, p *Program) {
	l.count(key+".numprocs", p.NumProcs, 1)
	l.count(key+".numprocs_start", p.NumProcsStart, 0)
	if p.NumProcs > 1 && p.ProcessName != "" && !strings.Contains(p.ProcessName, "%(process_num)") {
		l.p.add(key+".process_name", "must contain %(process_num)d (or 02d...) when numprocs > 1")
	}
	for i, code := range p.ExitCodes {
		if code < 0 || code > 255 {
			l.p.add(fmt.Sprintf("%s.exitcodes[%d]", key, i), fmt.Sprintf("%d is not an exit status (0 to 255)", code))
		}
	}
}

// expandCopies replaces each program that has copies (numprocs > 1 or a
// process_name) by its copies, named by process_name and numbered from
// numprocs_start, each with PROCESS_NUM in its environment, and makes a
// dependency on the program a dependency on every copy.
func (l *loader) expandCopies(c *Config) {
	copies := map[string][]string{}
	made := map[string]string{}
	for _, name := range sortedKeys(c.Programs) {
		p := c.Programs[name]
		if p.ProcessGroup == "" {
			p.ProcessGroup = name
		}
		if p.NumProcs <= 1 && p.ProcessName == "" {
			continue
		}
		restore := l.p.at(p.Source)
		delete(c.Programs, name)
		for n := p.NumProcsStart; n < p.NumProcsStart+max(p.NumProcs, 1); n++ {
			cp := copyOf(p, name, n)
			switch {
			case !programName.MatchString(cp.Name):
				l.p.add("programs."+name+".process_name", fmt.Sprintf("copy name %q is not a valid program name", cp.Name))
			case made[cp.Name] != "":
				l.p.add("programs."+name+".process_name", fmt.Sprintf("copy name %q is also a copy of %s", cp.Name, made[cp.Name]))
			case c.Programs[cp.Name] != nil:
				l.p.add("programs."+name+".process_name", fmt.Sprintf("copy name %q is also the name of a program", cp.Name))
			default:
				made[cp.Name] = name
				copies[name] = append(copies[name], cp.Name)
				c.Programs[cp.Name] = cp
			}
		}
		restore()
	}
	for _, p := range c.Programs {
		var deps []string
		for _, d := range p.DependsOn {
			if cs, ok := copies[d]; ok {
				deps = append(deps, cs...)
			} else {
				deps = append(deps, d)
			}
		}
		p.DependsOn = deps
	}
}

// copyOf is copy n of p, with the per-process expansions filled in.
func copyOf(p *Program, key string, n int) *Program {
	cp := *p
	vars := map[string]string{
		"program_name": key, "process_num": strconv.Itoa(n),
		"group_name": p.ProcessGroup, "numprocs": strconv.Itoa(p.NumProcs),
	}
	x := func(s string) string { return supervisord.ExpandPerProcess(s, vars) }
	tmpl := p.ProcessName
	if tmpl == "" {
		tmpl = "%(program_name)s"
		if p.NumProcs > 1 {
			tmpl = "%(program_name)s_%(process_num)02d"
		}
	}
	cp.Name, cp.ProcessNum, cp.CopyOf = x(tmpl), n, key
	cp.NumProcs, cp.NumProcsStart, cp.ProcessName = 1, 0, ""
	cp.Command = mapStrings(p.Command, x)
	cp.Directory, cp.Stdout, cp.Stderr = x(p.Directory), x(p.Stdout), x(p.Stderr)
	cp.Environment = make(map[string]string, len(p.Environment)+1)
	for k, v := range p.Environment {
		cp.Environment[k] = x(v)
	}
	cp.Environment["PROCESS_NUM"] = strconv.Itoa(n)
	cp.ExitCodes = slices.Clone(p.ExitCodes)
	cp.DependsOn = slices.Clone(p.DependsOn)
	cp.Check, cp.Watch = slices.Clone(p.Check), slices.Clone(p.Watch)
	cp.Capabilities, cp.RuntimeDirectory = slices.Clone(p.Capabilities), slices.Clone(p.RuntimeDirectory)
	cp.Ready, cp.Live = cloneProbe(p.Ready), cloneProbe(p.Live)
	return &cp
}

func mapStrings(in []string, f func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

func cloneProbe(p *Probe) *Probe {
	if p == nil {
		return nil
	}
	c := *p
	c.Exec = slices.Clone(p.Exec)
	return &c
}
