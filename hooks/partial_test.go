package hooks

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

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
