package healthcheck

import (
	"strings"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// A scheduled program between runs: its runs by result, SCHEDULED in the
// state one-hot, and no effect on /readyz (it is not critical).
func TestScheduleMetrics(t *testing.T) {
	sn := &supervisor.Snapshot{Programs: []supervisor.ProgramStatus{
		{Name: "php-fpm", State: "RUNNING", PID: 100, Critical: true, Ready: true},
		{Name: "cron", State: supervisor.StateScheduled, Schedule: &supervisor.ScheduleStatus{
			Expr: "* * * * *", Next: time.Unix(1700000060, 0), LastResult: supervisor.RunFailed,
			Runs: map[string]uint64{supervisor.RunOK: 4, supervisor.RunFailed: 1, supervisor.RunSkipped: 2},
		}},
	}}
	o := ServerOptions{Source: newFakeSource(sn), proc: writeFakeProc(t)}
	body := scrape(t, o)
	for _, want := range []string{
		`phpinit_schedule_runs_total{program="cron",result="ok"} 4`,
		`phpinit_schedule_runs_total{program="cron",result="failed"} 1`,
		`phpinit_schedule_runs_total{program="cron",result="skipped"} 2`,
		`phpinit_program_state{program="cron",state="SCHEDULED"} 1`,
		`phpinit_program_state{program="cron",state="STOPPED"} 0`,
		`phpinit_program_up{program="cron"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `phpinit_schedule_runs_total{program="php-fpm"`) ||
		strings.Contains(body, `program="php-fpm",state="SCHEDULED"`) {
		t.Error("a program without a schedule has schedule series")
	}
	parseMetrics(t, body)
	if code, body := do(t, newTestServer(t, o).Handler(), "GET", "/readyz"); code != 200 {
		t.Errorf("/readyz %d with a scheduled program between runs: %s", code, body)
	}
}
