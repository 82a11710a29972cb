package schedule

import (
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, expr string, loc *time.Location) *Schedule {
	t.Helper()
	s, err := Parse(expr, loc)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

func TestNext(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 10, 10, 17, 42, 500_000_000, time.UTC)
	for _, tc := range []struct {
		expr string
		loc  *time.Location
		want time.Time
	}{
		{"@every 30s", time.UTC, base.Add(30*time.Second - 500*time.Millisecond)},
		{"@hourly", time.UTC, time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)},
		{"@daily", time.UTC, time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"*/5 * * * *", time.UTC, time.Date(2026, 3, 10, 10, 20, 0, 0, time.UTC)},
		{"0 3 * * *", time.UTC, time.Date(2026, 3, 11, 3, 0, 0, 0, time.UTC)},
		// The container's zone when the expression names none...
		{"0 3 * * *", paris, time.Date(2026, 3, 11, 3, 0, 0, 0, paris)},
		{"@daily", paris, time.Date(2026, 3, 11, 0, 0, 0, 0, paris)},
		// ...and the expression's own zone when it does.
		{"CRON_TZ=Europe/Paris 0 3 * * *", time.UTC, time.Date(2026, 3, 11, 3, 0, 0, 0, paris)},
		{"TZ=UTC 0 3 * * *", paris, time.Date(2026, 3, 11, 3, 0, 0, 0, time.UTC)},
	} {
		got := mustParse(t, tc.expr, tc.loc).Next(base)
		if !got.Equal(tc.want) {
			t.Errorf("%q in %s: next after %s is %s, want %s", tc.expr, tc.loc, base, got, tc.want.UTC())
		}
	}
}

func TestNextNever(t *testing.T) {
	s := mustParse(t, "0 0 30 2 *", time.UTC)
	if got := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("February 30th: next is %s, want none", got)
	}
}

func TestParseErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"":                            "empty",
		"* * * *":                     "expected exactly 5 fields",
		"0 0 0 * * *":                 "expected exactly 5 fields",
		"61 * * * *":                  "above maximum",
		"@sometimes":                  "unrecognized descriptor",
		"@every 500ms":                "whole seconds",
		"@every -5s":                  "at least 1s",
		"@every soon":                 "invalid duration",
		"CRON_TZ=Europe/Paris":        "needs an expression",
		"CRON_TZ=Mars/Base 0 * * * *": "bad location",
	} {
		_, err := Parse(expr, time.UTC)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want an error with %q", expr, err, want)
		}
	}
}

// TestFired drives an @every 2s schedule with a fake clock: each fire runs
// once and plans the next tick from the planned one, an early fire (the
// wall clock stepped back) waits, and a late one (missed ticks) runs once.
func TestFired(t *testing.T) {
	s := mustParse(t, "@every 2s", time.UTC)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	planned := s.Next(start)
	if want := start.Add(2 * time.Second); !planned.Equal(want) {
		t.Fatalf("first tick %s, want %s", planned, want)
	}
	// On time, or a few milliseconds early: run, next from the plan.
	run, next := s.Fired(planned, planned.Add(-3*time.Millisecond))
	if !run || !next.Equal(planned.Add(2*time.Second)) {
		t.Fatalf("on time: run %v next %s", run, next)
	}
	// Ten seconds early: no run, same plan.
	run, next = s.Fired(next, next.Add(-10*time.Second))
	if run || !next.Equal(start.Add(4*time.Second)) {
		t.Fatalf("early: run %v next %s", run, next)
	}
	// An hour late: one run, then two seconds after now.
	late := next.Add(time.Hour)
	run, next = s.Fired(next, late)
	if !run || !next.Equal(late.Add(2*time.Second)) {
		t.Fatalf("late: run %v next %s", run, next)
	}
	if s.String() != "@every 2s" {
		t.Errorf("String() = %q", s.String())
	}
}
