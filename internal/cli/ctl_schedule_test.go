package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

func TestWriteStatusSchedule(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)
	sn := &supervisor.Snapshot{Time: now, Programs: []supervisor.ProgramStatus{
		{Name: "php-fpm", State: "RUNNING", PID: 1234, Started: now.Add(-65 * time.Second)},
		{Name: "artisan", State: supervisor.StateScheduled,
			LastExit: &supervisor.ExitInfo{Code: 0, Desc: "exit status 0", Time: now.Add(-28 * time.Second)},
			Schedule: &supervisor.ScheduleStatus{Expr: "* * * * *", Next: now.Add(30 * time.Second),
				LastRun: now.Add(-30 * time.Second), LastResult: supervisor.RunOK}},
		{Name: "wp-cron", State: "RUNNING", PID: 77, Started: now.Add(-3 * time.Second),
			Schedule: &supervisor.ScheduleStatus{Expr: "*/5 * * * *", Next: now.Add(270 * time.Second)}},
		{Name: "never", State: "STOPPED", Schedule: &supervisor.ScheduleStatus{Expr: "@hourly"}},
	}}
	var b bytes.Buffer
	if err := writeStatus(&b, sn, now); err != nil {
		t.Fatal(err)
	}
	const golden = `php-fpm  RUNNING    pid 1234  uptime 0:01:05  restarts 0  last exit -          reload -
artisan  SCHEDULED  pid -     uptime -        restarts 0  last exit 0 28s ago  last run ok 30s ago  next run in 30s
wp-cron  RUNNING    pid 77    uptime 0:00:03  restarts 0  last exit -          last run -  next run in 4m30s
never    STOPPED    pid -     uptime -        restarts 0  last exit -          last run -  next run -
`
	if b.String() != golden {
		t.Errorf("status table:\n%s\nwant:\n%s", b.String(), golden)
	}
}
