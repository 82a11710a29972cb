package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScanLimits(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		write(t, filepath.Join(dir, fmt.Sprintf("f%02d", i)), strings.Repeat("x", 100))
	}
	if _, err := newScanner(Limits{MaxFiles: 21, MaxBytes: 2000}).scan([]string{dir}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
	for _, l := range []Limits{{MaxFiles: 20, MaxBytes: 2000}, {MaxFiles: 21, MaxBytes: 1999}} {
		m, err := newScanner(l).scan([]string{dir})
		if _, ok := err.(*limitError); !ok || m != nil {
			t.Errorf("%+v: %v, %d entries; want a limitError", l, err, len(m))
		}
	}
}

// TestScanRefusesProc: a watched dir swapped for a symlink into /proc, or a
// link to /proc/kmsg (whose read blocks) inside one, is never read.
func TestScanRefusesProc(t *testing.T) {
	dir := t.TempDir()
	proc := filepath.Join(dir, "proc")
	if err := os.Symlink("/proc", proc); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/kmsg", filepath.Join(conf, "kmsg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self", filepath.Join(conf, "self")); err != nil {
		t.Fatal(err)
	}
	done := make(chan manifest, 1)
	go func() { done <- scan([]string{proc, conf}) }()
	var m manifest
	select {
	case m = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("scan still running")
	}
	for path, want := range map[string]string{
		proc:                        "!pseudo-fs",
		filepath.Join(conf, "self"): "!pseudo-fs",
		filepath.Join(conf, "kmsg"): "!pseudo-fs",
	} {
		if m[path] != want {
			t.Errorf("%s: %q, want %q", path, m[path], want)
		}
	}
	if len(m) != 3 {
		t.Errorf("scanned %d entries, want 3: %v", len(m), m)
	}
}

// TestWatcherBeyondLimits: a tree beyond the limits is an error counted and
// no change; back within them, the change is reported.
func TestWatcherBeyondLimits(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.conf"), "a")
	w, err := New(map[string][]string{"g": {dir}}, Options{Debounce: 20 * time.Millisecond, Limits: Limits{MaxFiles: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 5 {
		write(t, filepath.Join(dir, fmt.Sprintf("big%d", i)), "x")
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Errors() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no watch error counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case c := <-w.Changes():
		t.Fatalf("change reported beyond the limits: %+v", c)
	default:
	}
	for i := range 5 {
		os.Remove(filepath.Join(dir, fmt.Sprintf("big%d", i)))
	}
	write(t, filepath.Join(dir, "a.conf"), "b")
	select {
	case c := <-w.Changes():
		if len(c.Paths) != 1 || filepath.Base(c.Paths[0]) != "a.conf" {
			t.Errorf("change %+v, want a.conf", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change once within the limits")
	}
}

// TestScanReusesSettledHashes: an unchanged settled file is not read again
// (its cached sum stands), a changed one is; a file changed within the
// settle time is always read.
func TestScanReusesSettledHashes(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.conf")
	write(t, f, "one")
	s := newScanner(Limits{})
	first, _ := s.scan([]string{dir})
	if len(s.cache) != 0 {
		t.Fatalf("a file changed just now was cached: %v", s.cache)
	}
	s.settle = 0
	s.scan([]string{dir})
	for k, c := range s.cache {
		c.sum = "cached"
		s.cache[k] = c
	}
	second, _ := s.scan([]string{dir})
	if second[f] != "cached" {
		t.Errorf("settled unchanged file hashed again: %q", second[f])
	}
	write(t, f, "two")
	third, _ := s.scan([]string{dir})
	if third[f] == "cached" || third[f] == first[f] {
		t.Errorf("changed file not hashed again: %q", third[f])
	}
}

// TestPlanBeyondLimitsWatchesTheTopOnly: a tree of more entries than
// max_files costs one inotify watch, not one per directory.
func TestPlanBeyondLimitsWatchesTheTopOnly(t *testing.T) {
	dir := t.TempDir()
	for i := range 10 {
		write(t, filepath.Join(dir, fmt.Sprintf("d%d", i), "f"), "x")
	}
	plan := func(max int) int {
		g := &group{name: "g", paths: []string{dir}, scanner: newScanner(Limits{MaxFiles: max})}
		return len(planWatches(map[string]*group{"g": g}))
	}
	if n := plan(100); n != 11 {
		t.Errorf("within the limits: %d watches, want 11", n)
	}
	if n := plan(15); n != 1 {
		t.Errorf("beyond the limits: %d watches, want 1", n)
	}
}
