package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/phpinit/phpinit/internal/schedule"
)

// scheduledDefault makes a program with a schedule non-critical unless m
// (its raw keys) says otherwise, which validateSchedule then refuses: a
// scheduled program is down between its runs.
func scheduledDefault(m map[string]any, p *Program) {
	if s, _ := m["schedule"].(string); strings.TrimSpace(s) == "" {
		return
	}
	if _, set := m["critical"]; !set {
		critical := false
		p.Critical = &critical
	}
}

// validateSchedule checks a program's schedule and what cannot go with
// one, and that no program depends on a scheduled one.
func (l *loader) validateSchedule(c *Config, name string, p *Program) {
	key := "programs." + name
	for _, d := range p.DependsOn {
		if q := c.Programs[d]; q != nil && q.Schedule != "" {
			l.p.add(key+".depends_on", fmt.Sprintf("%q is a scheduled program: it runs only at its ticks, nothing can depend on it", d))
		}
	}
	if p.Schedule == "" {
		return
	}
	s, err := schedule.Parse(p.Schedule, time.Local)
	if err != nil {
		l.p.add(key+".schedule", fmt.Sprintf("invalid cron expression %q: %v", p.Schedule, err))
		return
	}
	if s.Next(time.Now()).IsZero() {
		l.p.add(key+".schedule", fmt.Sprintf("%q never runs (no time matches within five years)", p.Schedule))
	}
	if p.IsCritical() {
		l.p.add(key+".critical", "a scheduled program cannot be critical: it is down between its runs")
	}
	if p.Ready != nil {
		l.p.add(key+".ready", "a scheduled program has no readiness probe: each run is RUNNING until it ends")
	}
	if p.Live != nil {
		l.p.add(key+".live", "a scheduled program has no liveness probe: it is never restarted")
	}
	if p.ReloadSignal != 0 {
		l.p.add(key+".reload_signal", "a scheduled program is not reloaded: each run reads its config afresh")
	}
	if len(p.Watch) > 0 {
		l.p.add(key+".watch", "a scheduled program is not reloaded: each run reads its files afresh")
	}
}
