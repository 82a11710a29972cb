package logsink

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// TestOwnLogNeverBlocks logs through LogWriter into a destination that never
// takes a write: every log call must return, the excess be counted under
// program "phpinit", and Flush give up.
func TestOwnLogNeverBlocks(t *testing.T) {
	g := newGate()
	h := newHub(os.Stdout, os.Stderr, g, g, nil)
	logger := slog.New(slog.NewTextHandler(h.LogWriter(), nil))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2 * ownQueueLines {
			logger.Info("a line", "i", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("logging blocked on a stalled destination")
	}
	var lost uint64
	for _, d := range h.Dropped() {
		if d.Program == OwnProgram && d.Stream == "stderr" {
			lost = d.Lines
		}
	}
	// The writer holds one batch in its stuck Write and the queue the rest.
	if lost == 0 || lost > uint64(2*ownQueueLines) {
		t.Errorf("dropped %d of %d lines, want some but not all", lost, 2*ownQueueLines)
	}
	if h.Flush(10 * time.Millisecond) {
		t.Error("Flush reported done with the destination stalled")
	}
	close(g.open)
	if !h.Flush(testTimeout) {
		t.Fatal("Flush did not finish once the destination took writes")
	}
	lines := strings.Split(strings.TrimSuffix(g.String(), "\n"), "\n")
	if want := 2*ownQueueLines - int(lost); len(lines) != want {
		t.Errorf("wrote %d lines, want %d", len(lines), want)
	}
	for _, l := range lines {
		if !strings.Contains(l, `msg="a line"`) {
			t.Fatalf("line mangled: %q", l)
		}
	}
}

func TestOwnOutputKeepsOrderAndWholeWrites(t *testing.T) {
	h, out, _, _ := newTestHub(t)
	for i := range 1000 {
		fmt.Fprintf(h.Stdout(), "line %d\n", i)
	}
	if !h.Flush(testTimeout) {
		t.Fatal("Flush did not finish")
	}
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if got := out.String(); got != want.String() {
		t.Errorf("own output reordered or changed: %q", got)
	}
	if d := h.Dropped(); len(d) != 0 {
		t.Errorf("Dropped() = %v, want nothing", d)
	}
}

// TestPartialLineFlushedAfterQuiet writes a line without newline and keeps
// the pipe open: the line must come out on its own, marked partial, and the
// next output must not be glued to it.
func TestPartialLineFlushedAfterQuiet(t *testing.T) {
	h, out, _, _ := newTestHub(t)
	h.partialQuiet = 20 * time.Millisecond
	s := open(t, h, Spec{Program: "p", Stream: "stdout", Mode: "json"})
	run(t, s, nil, `printf 'Loading...'`)
	waitFor(t, func() bool { return strings.Contains(out.String(), "Loading") })
	run(t, s, nil, `echo done`)
	closeSink(t, s)

	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		got = append(got, m)
	}
	if len(got) != 2 || got[0]["line"] != "Loading..." || got[0]["partial"] != true ||
		got[1]["line"] != "done" || got[1]["partial"] != nil {
		t.Errorf("lines: %v, want Loading... (partial) then done", got)
	}
}

// TestPartialLineAtEOFIsMarked: the last line of a stream without newline is
// written at EOF, marked partial; prefix mode ends it with a newline.
func TestPartialLineAtEOFIsMarked(t *testing.T) {
	h, out, errs, _ := newTestHub(t)
	h.partialQuiet = time.Hour
	js := open(t, h, Spec{Program: "p", Stream: "stdout", Mode: "json"})
	px := open(t, h, Spec{Program: "p", Stream: "stderr", Mode: "prefix"})
	run(t, js, px, `printf 'no newline'; printf 'tail' >&2`)
	closeSink(t, js)
	closeSink(t, px)
	if got := out.String(); !strings.HasSuffix(got, `"line":"no newline","partial":true}`+"\n") {
		t.Errorf("json: %q", got)
	}
	if got := errs.String(); got != "p | tail\n" {
		t.Errorf("prefix: %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHookOutputWaitsForASlowDestination: hook output into a full queue
// waits for room rather than being dropped while the destination takes
// writes, and gives up once (not per line) when it stalls.
func TestHookOutputWaitsForASlowDestination(t *testing.T) {
	g := newGate()
	h := newHub(os.Stdout, os.Stderr, g, g, nil)
	h.hookWait = testTimeout
	const n = 3 * ownQueueLines
	go func() {
		time.Sleep(50 * time.Millisecond) // slow, not stalled
		close(g.open)
	}()
	for i := range n {
		fmt.Fprintf(h.Stdout(), "line %d\n", i)
	}
	if !h.Flush(testTimeout) {
		t.Fatal("Flush did not finish")
	}
	if got := strings.Count(g.String(), "\n"); got != n {
		t.Errorf("wrote %d lines, want %d", got, n)
	}
	if d := h.Dropped(); len(d) != 0 {
		t.Errorf("Dropped() = %v, want nothing", d)
	}

	stalled := newGate()
	h = newHub(os.Stdout, os.Stderr, stalled, stalled, nil)
	h.hookWait = 10 * time.Millisecond
	start := time.Now()
	for i := range n {
		fmt.Fprintf(h.Stderr(), "line %d\n", i)
	}
	// One wait of hookWait, not one per dropped line (that would be
	// minutes).
	if d := time.Since(start); d > testTimeout {
		t.Errorf("writing to a stalled destination took %s", d)
	}
	var lost uint64
	for _, d := range h.Dropped() {
		lost += d.Lines
	}
	if lost == 0 {
		t.Error("no drops counted for a stalled destination")
	}
	close(stalled.open)
}
