package healthcheck

import (
	"testing"

	"github.com/phpinit/phpinit/supervisor"
)

// A critical autostart false program counts for /readyz only once it has
// been asked to run.
func TestNotReadyIgnoresProgramsNotAskedToRun(t *testing.T) {
	sn := &supervisor.Snapshot{Programs: []supervisor.ProgramStatus{
		{Name: "nginx", State: "RUNNING", Critical: true, Ready: true},
		{Name: "cron", State: "STOPPED", Critical: true, OnRequest: true},
	}}
	if why := notReady(sn); why != "" {
		t.Errorf("not started on request: notReady = %q, want ready", why)
	}
	sn.Programs[1].OnRequest = false
	sn.Programs[1].State = "STARTING"
	if why := notReady(sn); why != "cron STARTING" {
		t.Errorf("started on request: notReady = %q, want cron STARTING", why)
	}
}
