package app

import (
	"fmt"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/schedule"
	"github.com/phpinit/phpinit/supervisor"
)

// scheduleSpec makes spec run at the ticks of p's schedule, if it has one.
// A run is RUNNING from its spawn to its end (no start_seconds, no probes),
// is never restarted, and is never reloaded (a reload of everything would
// otherwise be deferred to, and restart, the next run); times are in the
// container's zone (TZ) unless the expression names one.
func scheduleSpec(p *config.Program, spec *supervisor.ProgramSpec) error {
	if p.Schedule == "" {
		return nil
	}
	s, err := schedule.Parse(p.Schedule, time.Local)
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
