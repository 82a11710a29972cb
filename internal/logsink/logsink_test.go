package logsink

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPrefixFormat(t *testing.T) {
	h, out, errs, _ := newTestHub(t)
	so := open(t, h, Spec{Program: "nginx", Stream: "stdout", Mode: "prefix"})
	se := open(t, h, Spec{Program: "nginx", Stream: "stderr", Mode: "prefix"})
	run(t, so, se, `printf 'a\nb\r\n\nc\rd\r\n\ntail\r'; printf 'oops\n' >&2`)
	closeSink(t, so)
	closeSink(t, se)

	// CR LF loses its CR; a CR inside a line stays; an empty line is a
	// line; the last line needs no newline (and loses a trailing CR too).
	if got, want := out.String(), "nginx | a\nnginx | b\nnginx | \nnginx | c\rd\nnginx | \nnginx | tail\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got, want := errs.String(), "nginx | oops\n"; got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

func TestJSONFormat(t *testing.T) {
	h, _, errs, _ := newTestHub(t)
	h.now = func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("", 3600)) }
	s := open(t, h, Spec{Program: "php-fpm", Stream: "stderr", Mode: "json"})
	if _, err := s.File().Write([]byte("say \"hi\"\t<b>&\\\r\n\né\xff\x01\u2028\n")); err != nil {
		t.Fatal(err)
	}
	closeSink(t, s)

	const head = `{"time":"2026-11-27T10:00:00.123456789+01:00","program":"php-fpm","stream":"stderr","line":`
	want := head + `"say \"hi\"\t<b>&\\"}` + "\n" +
		head + `""}` + "\n" +
		head + `"é\ufffd\u0001\u2028"}` + "\n"
	if got := errs.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for line := range strings.Lines(want) {
		if !json.Valid([]byte(line)) {
			t.Errorf("invalid JSON: %s", line)
		}
	}
}

func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x1f\x7f", "é\xff\xfe", "\u2028\u2029", "\ufffd", "<&>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		q := appendQuoted(nil, s)
		var got string
		if err := json.Unmarshal(q, &got); err != nil {
			t.Fatalf("%q quoted as invalid JSON %s: %v", s, q, err)
		}
		// Each byte of invalid UTF-8 becomes one U+FFFD, as encoding/json does.
		var want []rune
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRune(s[i:])
			want = append(want, r)
			i += n
		}
		if got != string(want) {
			t.Fatalf("%q round-trips to %q, want %q", s, got, string(want))
		}
	})
}

func TestInherit(t *testing.T) {
	h, _, _, _ := newTestHub(t)
	for _, mode := range []string{"inherit", ""} {
		s := open(t, h, Spec{Program: "nginx", Stream: "stderr", Mode: mode})
		if s.File() != os.Stderr {
			t.Errorf("mode %q: File() = %v, want the hub's stderr", mode, s.File().Name())
		}
		if err := s.Close(0); err != nil {
			t.Errorf("mode %q: Close: %v", mode, err)
		}
	}
	if got, want := h.Dropped(), []Drop{{"nginx", "stderr", 0}}; !slices.Equal(got, want) {
		t.Errorf("Dropped() = %v, want %v", got, want)
	}
}

func TestCountersListEverySinkSorted(t *testing.T) {
	h, _, _, _ := newTestHub(t)
	for _, s := range []Spec{
		{Program: "php-fpm", Stream: "stdout", Mode: "prefix"},
		{Program: "nginx", Stream: "stdout", Mode: "inherit"},
		{Program: "nginx", Stream: "stderr", Mode: "json"},
		{Program: "nginx", Stream: "stderr", Mode: "prefix"}, // reopened: one counter
	} {
		closeSink(t, open(t, h, s))
	}
	want := []Drop{{"nginx", "stderr", 0}, {"nginx", "stdout", 0}, {"php-fpm", "stdout", 0}}
	if got := h.Dropped(); !slices.Equal(got, want) {
		t.Errorf("Dropped() = %v, want %v", got, want)
	}
	if got := h.Split(); !slices.Equal(got, want) {
		t.Errorf("Split() = %v, want %v", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	h, _, _, _ := newTestHub(t)
	dir := t.TempDir()
	for _, s := range []Spec{
		{Program: "nginx", Stream: "stdin", Mode: "prefix"},
		{Program: "nginx", Stream: "stdout", Mode: "logs/nginx.log"},
		{Program: "nginx", Stream: "stdout", Mode: "JSON"},
		{Program: "nginx", Stream: "stdout", Mode: filepath.Join(dir, "a.log"), MaxSize: -1},
		{Program: "nginx", Stream: "stdout", Mode: filepath.Join(dir, "a.log"), Backups: -1},
		{Program: "nginx", Stream: "stdout", Mode: "/proc/version/nginx.log"},
	} {
		if sink, err := h.Open(s); err == nil {
			_ = sink.Close(0)
			t.Errorf("Open(%+v) succeeded", s)
		} else if !strings.HasPrefix(err.Error(), "cannot open nginx") {
			t.Errorf("Open(%+v): %v, want it to start with \"cannot open nginx\"", s, err)
		}
	}
	if got := h.Dropped(); len(got) != 0 {
		t.Errorf("failed opens were counted: %v", got)
	}
}
