package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// FieldError is one problem in the config, located by file and dotted key
// (e.g. programs.nginx.stop_signal). Load returns every FieldError it finds
// inside one *multierror.Error, sorted by key.
type FieldError struct {
	// File is the config file; "" when the problem is not from a file.
	File string
	// Key is the dotted path of the bad key; "" for whole-file problems
	// (unreadable file, YAML syntax).
	Key string
	// Msg says what is wrong and quotes the bad value.
	Msg string
}

// Error renders "FILE: KEY: MSG", leaving out empty parts.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// problems collects FieldErrors for one Load.
type problems struct {
	file string
	// fromEnv maps a dotted key to the PHPINIT_* variable that set it, so
	// an error about an overridden value names where the value came from.
	fromEnv map[string]string
	list    []*FieldError
}

func (p *problems) add(key, msg string) {
	if v, ok := p.fromEnv[key]; ok {
		msg += " (from " + v + ")"
	}
	p.list = append(p.list, &FieldError{File: p.file, Key: key, Msg: msg})
}

// err returns nil or a *multierror.Error of *FieldError sorted by key.
// It returns a plain nil so that callers' err != nil checks work.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool {
		a, b := p.list[i], p.list[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Msg < b.Msg
	})
	me := &multierror.Error{ErrorFormat: lines}
	for _, fe := range p.list {
		me.Errors = append(me.Errors, fe)
	}
	return me
}

// lines formats a multierror as one error per line, the form `phpinit
// check` prints.
func lines(es []error) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}
