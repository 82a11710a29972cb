package config

import (
	"slices"
	"strings"
	"testing"
)

func TestScheduledProgramIsNotCritical(t *testing.T) {
	c, err := loadOffline(t, `
supervisord: {include: []}
programs:
  web: {command: [web]}
  cron: {command: [php, artisan, schedule:run], schedule: "* * * * *"}
  env: {command: [wp-cron]}
`, "PHPINIT_PROGRAMS_ENV_SCHEDULE=@every 5m")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Programs["web"].IsCritical() {
		t.Error("web: not critical by default")
	}
	for _, name := range []string{"cron", "env"} {
		if p := c.Programs[name]; p.IsCritical() {
			t.Errorf("%s (schedule %q) is critical by default", name, p.Schedule)
		}
	}
}

func TestScheduleRefusals(t *testing.T) {
	_, err := loadOffline(t, `
supervisord: {include: []}
programs:
  job:
    command: [job]
    schedule: "@hourly"
    critical: true
    ready: {tcp: "127.0.0.1:1"}
    live: {tcp: "127.0.0.1:1"}
    reload_signal: HUP
    watch: [/etc]
  web: {command: [web], depends_on: [job]}
  never: {command: [n], schedule: "0 0 30 2 *"}
  zone: {command: [z], schedule: "CRON_TZ=Nowhere/Land 0 3 * * *"}
  bare: {command: [z], schedule: "CRON_TZ=UTC"}
  fast: {command: [z], schedule: "@every 100ms"}
`)
	got := problemsOf(t, err)
	for _, w := range []string{
		"programs.job.critical: a scheduled program cannot be critical: it is down between its runs",
		"programs.job.ready: a scheduled program has no readiness probe: each run is RUNNING until it ends",
		"programs.job.live: a scheduled program has no liveness probe: it is never restarted",
		"programs.job.reload_signal: a scheduled program is not reloaded: each run reads its config afresh",
		"programs.job.watch: a scheduled program is not reloaded: each run reads its files afresh",
		`programs.web.depends_on: "job" is a scheduled program: it runs only at its ticks, nothing can depend on it`,
		`programs.never.schedule: "0 0 30 2 *" never runs (no time matches within five years)`,
	} {
		if !slices.Contains(got, w) {
			t.Errorf("problems lack %q:\n%q", w, got)
		}
	}
	for _, name := range []string{"zone", "bare", "fast"} {
		prefix := "programs." + name + ".schedule: invalid cron expression"
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, prefix) }) {
			t.Errorf("no problem starting %q:\n%q", prefix, got)
		}
	}
}
