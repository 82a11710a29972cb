package cli

import (
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// statusTail is the last field of a status line: the reload, or for a
// scheduled program its last run and its next.
func statusTail(p supervisor.ProgramStatus, now time.Time) string {
	sc := p.Schedule
	if sc == nil {
		return lastReload(p.LastReload, now)
	}
	s := "last run -"
	if !sc.LastRun.IsZero() {
		s = "last run " + sc.LastResult + " " + ago(now.Sub(sc.LastRun)) + " ago"
	}
	if sc.Next.IsZero() {
		return s + "  next run -"
	}
	return s + "  next run in " + ago(sc.Next.Sub(now))
}
