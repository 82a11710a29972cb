package config

import (
	"fmt"
	"slices"
	"strings"
)

// EnvOnly selects the programs a run defines: PHPINIT_ONLY=worker or
// PHPINIT_ONLY=nginx,php-fpm (`phpinit run --only` sets it). Each name is a
// program, a group (a supervisord [group:x]) or a program with copies
// ("worker" for worker_00..); what they depend on is kept too. The other
// programs are not defined at all in that run: not started, not in `ctl
// status`, not watched, not waited for by /readyz. Unset or empty: every
// program.
const EnvOnly = "PHPINIT_ONLY"

// selectOnly keeps the programs PHPINIT_ONLY names and their dependencies,
// after copies are made.
func (l *loader) selectOnly(c *Config) {
	only := onlyNames(l.o.Environ)
	if len(only) == 0 {
		return
	}
	keep := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		p, ok := c.Programs[name]
		if !ok || keep[name] {
			return
		}
		keep[name] = true
		for _, d := range p.DependsOn {
			visit(d)
		}
	}
	// The selection comes from the environment, not from a file.
	file := l.p.file
	l.p.file = ""
	defer func() { l.p.file = file }()
	for _, n := range only {
		matched := false
		for _, name := range sortedKeys(c.Programs) {
			p := c.Programs[name]
			if name == n || p.ProcessGroup == n || p.CopyOf == n {
				visit(name)
				matched = true
			}
		}
		if !matched {
			l.p.add(EnvOnly, fmt.Sprintf("no program or group %q (programs: %s)", n, strings.Join(sortedKeys(c.Programs), ", ")))
		}
	}
	for name := range c.Programs {
		if !keep[name] {
			delete(c.Programs, name)
		}
	}
}

// onlyNames splits PHPINIT_ONLY at commas and spaces.
func onlyNames(environ []string) []string {
	var v string
	for _, kv := range slices.Backward(environ) {
		if k, val, ok := strings.Cut(kv, "="); ok && k == EnvOnly {
			v = val
		}
	}
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}
