package logsink

import (
	"time"
	"unicode/utf8"
)

type mode int

const (
	modePrefix mode = iota // "nginx | line"
	modeJSON               // {"time":...,"program":...,"stream":...,"line":...[,"partial":true]}
	modeFile               // the line as the child wrote it
)

// format appends lines of one sink to a buffer. head is precomputed per sink.
type format struct {
	mode mode
	head []byte // prefix: "nginx | "; json: `","program":"nginx","stream":"stderr","line":`
	// The lines of one read share a time: format it once.
	at    time.Time
	stamp []byte
}

func newFormat(m mode, s Spec) *format {
	f := &format{mode: m}
	switch m {
	case modePrefix:
		f.head = append([]byte(s.Program), " | "...)
	case modeJSON:
		f.head = append(f.head, `","program":`...)
		f.head = appendQuoted(f.head, []byte(s.Program))
		f.head = append(f.head, `,"stream":`...)
		f.head = appendQuoted(f.head, []byte(s.Stream))
		f.head = append(f.head, `,"line":`...)
	}
	return f
}

// overhead estimates the bytes format adds to a line, for batching.
func (f *format) overhead() int {
	switch f.mode {
	case modeJSON:
		return len(`{"time":"2006-01-02T15:04:05.999999999-07:00`) + len(f.head) + len(`"","partial":true}`) + 1
	default:
		return len(f.head) + 1
	}
}

func (f *format) append(b []byte, e entry) []byte {
	switch f.mode {
	case modePrefix:
		b = append(b, f.head...)
		b = append(b, e.line...)
	case modeJSON:
		b = append(b, `{"time":"`...)
		if f.stamp == nil || !e.at.Equal(f.at) {
			f.at, f.stamp = e.at, e.at.AppendFormat(f.stamp[:0], time.RFC3339Nano)
		}
		b = append(b, f.stamp...)
		b = append(b, f.head...)
		b = appendQuoted(b, e.line)
		if e.partial {
			b = append(b, `,"partial":true`...)
		}
		b = append(b, '}')
	case modeFile:
		b = append(b, e.line...)
	}
	return append(b, '\n')
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string. Unlike encoding/json it leaves
// <, > and & alone (log lines are not HTML); like it, it replaces each byte
// of invalid UTF-8 with U+FFFD and escapes U+2028 and U+2029.
func appendQuoted(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
