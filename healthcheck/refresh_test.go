package healthcheck

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/phpinit/phpinit/supervisor"
)

// refreshingSource probes on demand, like *supervisor.Supervisor: a
// refresh publishes the snapshot the probe would.
type refreshingSource struct {
	*fakeSource
	refreshes atomic.Int64
	after     *supervisor.Snapshot
}

func (r *refreshingSource) RefreshReadiness(context.Context) error {
	r.refreshes.Add(1)
	r.snap.Store(r.after)
	return nil
}

// /readyz and /metrics answer from readiness refreshed first: a probe
// that fails on demand is in the answer.
func TestReadyzAndMetricsRefreshReadiness(t *testing.T) {
	failed := readySnapshot()
	failed.Programs[0].Ready = false
	failed.Programs[0].ProbeError = "connection refused"
	src := &refreshingSource{fakeSource: newFakeSource(readySnapshot()), after: failed}
	s := newTestServer(t, ServerOptions{Source: src})
	if code, body := do(t, s.Handler(), http.MethodGet, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after a refresh that failed php-fpm: %d %s", code, body)
	}
	if n := src.refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes for one /readyz, want 1", n)
	}
	code, body := do(t, s.Handler(), http.MethodGet, "/metrics")
	if code != http.StatusOK || !strings.Contains(body, `phpinit_program_ready{program="php-fpm"} 0`) {
		t.Errorf("/metrics: %d, want phpinit_program_ready 0 for php-fpm in:\n%s", code, body)
	}
	if n := src.refreshes.Load(); n != 2 {
		t.Errorf("%d refreshes after /readyz and /metrics, want 2", n)
	}
	// /healthz does not probe.
	do(t, s.Handler(), http.MethodGet, "/healthz")
	if n := src.refreshes.Load(); n != 2 {
		t.Errorf("/healthz refreshed readiness (%d refreshes)", n)
	}
}
