// Package schedule parses the cron expressions of scheduled programs and
// computes their ticks. It holds no clock: callers pass the times in, so
// the loop uses its own (injected) clock and tests use fixed times.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// Zones named in CRON_TZ=/TZ= must load in images without tzdata.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// early is how far before its planned time a tick may fire and still run:
// a timer runs on the monotonic clock, and a wall clock stepped back by
// NTP would otherwise run a tick twice.
const early = time.Second

// horizon bounds the search for the next tick: an expression with no time
// within it (0 0 30 2 *) never runs.
const horizon = 5 * 366 * 24 * time.Hour

// Schedule is a parsed cron expression.
type Schedule struct {
	expr  string
	sched cron.Schedule
}

// parser takes what the README promises: five fields and the @ forms
// (@hourly, @daily, @every 30s...), with an optional CRON_TZ= or TZ= prefix.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses expr. Without a CRON_TZ=/TZ= prefix, times are in loc
// (phpinit passes time.Local: the container's TZ).
func Parse(expr string, loc *time.Location) (*Schedule, error) {
	spec := strings.TrimSpace(expr)
	zoned := strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")
	// robfig/cron v3.0.1 slices out of range (panics) on a zone with
	// nothing after it.
	if zoned && !strings.Contains(spec, " ") {
		return nil, errors.New("a time zone needs an expression after it, e.g. CRON_TZ=Europe/Paris 0 3 * * *")
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		if err := checkEvery(strings.TrimSpace(d)); err != nil {
			return nil, err
		}
	}
	sched, err := parser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if s, ok := sched.(*cron.SpecSchedule); ok && !zoned && loc != nil {
		s.Location = loc
	}
	return &Schedule{expr: expr, sched: sched}, nil
}

// checkEvery refuses what robfig/cron would silently round up to 1s.
func checkEvery(d string) error {
	v, err := time.ParseDuration(d)
	if err != nil {
		return fmt.Errorf("@every %s: %w", d, err)
	}
	if v < time.Second || v%time.Second != 0 {
		return fmt.Errorf("@every %s: must be whole seconds, at least 1s", d)
	}
	return nil
}

// String is the expression as written.
func (s *Schedule) String() string { return s.expr }

// Next is the first tick after t; zero when there is none within five
// years (an expression such as 0 0 30 2 * never matches).
func (s *Schedule) Next(t time.Time) time.Time {
	n := s.sched.Next(t)
	if n.IsZero() || n.Sub(t) > horizon {
		return time.Time{}
	}
	return n
}

// Fired says what to do when the timer armed for the tick planned fires at
// now: run it (unless the timer fired early, when the wall clock went
// back), and when the next tick is. Ticks missed while the timer was late
// (a suspended machine) make one run, not a burst.
func (s *Schedule) Fired(planned, now time.Time) (run bool, next time.Time) {
	if now.Before(planned.Add(-early)) {
		return false, planned
	}
	return true, s.Next(later(planned, now))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
