package app

import (
	"fmt"
	"strings"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/schedule"
	"github.com/phpinit/phpinit/supervisor"
)

// scheduleSpec makes spec run at the ticks of p's schedule, if it has one.
// A run is RUNNING from its spawn to its end (no start_seconds, no probes),
// is never restarted, and is never reloaded (a reload of everything would
// otherwise be deferred to, and restart, the next run); times are in the
// zone of TZ in the program's environment unless the expression names one.
func scheduleSpec(p *config.Program, spec *supervisor.ProgramSpec) error {
	if p.Schedule == "" {
		return nil
	}
	s, err := schedule.Parse(p.Schedule, zoneOf(spec.Env))
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	spec.Schedule = s
	spec.StartSeconds = 0
	spec.Ready, spec.Live = nil, nil
	spec.Restart = supervisor.RestartNever
	spec.Critical = false
	spec.ReloadSignal, spec.OnChangeRestart, spec.Check = 0, false, nil
	return nil
}

// zoneOf is the zone a program's TZ names, as its own clock sees it
// (phpinit's TZ, a hook's export or its environment key, the last one
// winning): "" is UTC, as in libc; without TZ, or with one Go cannot load
// (a POSIX rule such as EST5EDT,M3.2.0,M11.1.0), phpinit's own zone.
func zoneOf(env []string) *time.Location {
	tz, set := "", false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "TZ="); ok {
			tz, set = v, true
		}
	}
	if !set {
		return time.Local
	}
	if loc, err := time.LoadLocation(strings.TrimPrefix(tz, ":")); err == nil {
		return loc
	}
	return time.Local
}
