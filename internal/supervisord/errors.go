package supervisord

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// Error is one problem in a supervisord file, at a line. Parse returns
// every Error it finds inside one *multierror.Error.
type Error struct {
	// File is the supervisord file.
	File string
	// Line is 1-based; 0 when the problem is the whole file.
	Line int
	// Section is the section the key is in ("program:worker"); "" for
	// problems outside one.
	Section string
	// Key is the key; "" for problems with a section or the file.
	Key string
	// Msg says what is wrong and quotes the bad value.
	Msg string
}

// Error renders "FILE:LINE: [SECTION] KEY: MSG", leaving out empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Where())
	b.WriteString(": ")
	if e.Section != "" {
		b.WriteString("[" + e.Section + "] ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Where is "FILE:LINE", or FILE when the line is unknown.
func (e *Error) Where() string {
	if e.Line > 0 {
		return e.File + ":" + strconv.Itoa(e.Line)
	}
	return e.File
}

// Notice is something worth saying that is not an error: an ignored
// section or key (Level "info") or an unknown key (Level "warn").
type Notice struct {
	// Level is "info" or "warn".
	Level   string
	File    string
	Line    int
	Section string
	Key     string
	Msg     string
}

func (n Notice) String() string {
	e := Error{File: n.File, Line: n.Line, Section: n.Section, Key: n.Key, Msg: n.Msg}
	return e.Error()
}

// errorList collects Errors; section is filled in by the caller's context.
type errorList struct {
	section string
	list    []*Error
}

func (l *errorList) add(file string, line int, key, msg string) {
	l.list = append(l.list, &Error{File: file, Line: line, Section: l.section, Key: key, Msg: msg})
}

func (l *errorList) addf(e entry, file, format string, args ...any) {
	l.add(file, e.line, e.key, fmt.Sprintf(format, args...))
}

// err is nil or a *multierror.Error of *Error in file and line order.
func (l *errorList) err() error {
	if len(l.list) == 0 {
		return nil
	}
	sort.SliceStable(l.list, func(i, j int) bool {
		a, b := l.list[i], l.list[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	me := &multierror.Error{ErrorFormat: func(es []error) string {
		s := make([]string, len(es))
		for i, e := range es {
			s[i] = e.Error()
		}
		return strings.Join(s, "\n")
	}}
	for _, e := range l.list {
		me.Errors = append(me.Errors, e)
	}
	return me
}

func quote(s string) string { return strconv.Quote(s) }
