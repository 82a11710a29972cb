package hooks

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestCopyLines(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     []string
	}{
		{"empty", "", 10, nil},
		{"lines", "a\nbb\n\nc", 10, []string{"a\n", "bb\n", "\n", "c\n"}},
		{"exactly max", "0123456789\n", 10, []string{"0123456789\n"}},
		{"split", "0123456789abcdefghijXY\nz", 10, []string{"0123456789\n", "abcdefghij\n", "XY\n", "z\n"}},
		{"long", strings.Repeat("x", 200000) + "\n", 1 << 20, []string{strings.Repeat("x", 200000) + "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w recorder
			s := newLineSink(nil, nil)
			// One byte per read: lines must be assembled across reads.
			s.copyLines(&w, iotest.OneByteReader(strings.NewReader(tc.in)), tc.max)
			if got := w.Writes(); !slices.Equal(got, tc.want) {
				t.Errorf("writes = %.40q, want %.40q", got, tc.want)
			}
		})
	}
}

// A read error other than EOF ends the copy after flushing what was read.
func TestCopyLinesReadError(t *testing.T) {
	var w recorder
	r := io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(io.ErrUnexpectedEOF))
	newLineSink(nil, nil).copyLines(&w, r, 10)
	if got := w.Writes(); !slices.Equal(got, []string{"a\n", "b\n"}) {
		t.Errorf("writes = %q", got)
	}
}

// TestHookPartialLineShowsWhileItWaits: a hook's line without newline is
// written (with one) while the hook still runs, and its next output is a
// line of its own.
func TestHookPartialLineShowsWhileItWaits(t *testing.T) {
	dir := t.TempDir()
	initd := filepath.Join(dir, "init.d")
	if err := os.Mkdir(initd, 0o755); err != nil {
		t.Fatal(err)
	}
	gate := filepath.Join(dir, "gate")
	writeFile(t, filepath.Join(initd, "10-wait"), 0o755,
		"#!/bin/sh\nprintf 'waiting for db...'\nwhile [ ! -e "+gate+" ]; do sleep 0.02; done\necho done\n")
	var out recorder
	seen := out.awaiting("waiting for db...\n")
	errc := make(chan error, 1)
	go func() {
		_, err := Run(t.Context(), Options{Dir: initd, Env: baseEnv(), Stdout: &out})
		errc <- err
	}()
	select {
	case <-seen:
	case err := <-errc:
		t.Fatalf("hook ended before its partial line was written: %v, %q", err, out.Writes())
	case <-time.After(30 * time.Second):
		t.Fatalf("partial line not written while the hook waits: %q", out.Writes())
	}
	writeFile(t, gate, 0o644, "")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := out.Writes(); !slices.Equal(got, []string{"waiting for db...\n", "done\n"}) {
		t.Errorf("writes = %q", got)
	}
}
