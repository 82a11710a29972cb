package healthcheck

import (
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/phpinit/phpinit/config"
)

// gatherPHPFPM scrapes c alone, so the test can change c between scrapes.
func gatherPHPFPM(t *testing.T, c *phpfpmCollector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// A configured pool label is the same whether the pool answers or not, so
// phpfpm_up{pool="www"} == 0 fires.
func TestPHPFPMPoolLabelFromConfig(t *testing.T) {
	missing := "unix://" + filepath.Join(t.TempDir(), "missing.sock")
	o := ServerOptions{Source: newFakeSource(nil), Metrics: config.Metrics{PHPFPM: []config.PoolStatus{
		{Address: missing, Path: "/status", Pool: "www"},
	}}}
	mfs := parseMetrics(t, scrape(t, o))
	if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": "www"}); v != 0 || len(mfs["phpfpm_up"].GetMetric()) != 1 {
		t.Errorf("phpfpm_up{pool=www} = %v, %d series; want 0, 1", v, len(mfs["phpfpm_up"].GetMetric()))
	}

	address := startMetricsPHPFPM(t)
	o.Metrics.PHPFPM[0] = config.PoolStatus{Address: address, Path: "/status", Pool: "site"}
	mfs = parseMetrics(t, scrape(t, o))
	// The configured name wins over the status page's ("www").
	if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": "site"}); v != 1 {
		t.Errorf("phpfpm_up{pool=site} = %v, want 1", v)
	}
}

// Without a configured label, a pool that goes down keeps the name its
// status page last reported.
func TestPHPFPMPoolLabelRemembered(t *testing.T) {
	address := startMetricsPHPFPM(t)
	c := newPHPFPMCollector([]config.PoolStatus{{Address: address, Path: "/status"}}, slog.New(slog.DiscardHandler))
	up := func(want float64) {
		t.Helper()
		mfs := gatherPHPFPM(t, c)
		if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": "www"}); v != want || len(mfs["phpfpm_up"].GetMetric()) != 1 {
			t.Errorf("phpfpm_up{pool=www} = %v, %d series; want %v, 1", v, len(mfs["phpfpm_up"].GetMetric()), want)
		}
	}
	up(1)
	c.pools[0].Address = "unix://" + filepath.Join(t.TempDir(), "gone.sock")
	up(0)
}

// listenUnix binds a real listening unix socket that nobody accepts on.
func listenUnix(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pool.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

// phpfpm_listen_queue of a unix pool is the kernel's accept queue of its
// listen socket, whether the status page answers or not.
func TestPHPFPMListenQueueFromKernel(t *testing.T) {
	address := startMetricsPHPFPM(t)
	_, path := listenUnix(t)
	conn, err := net.Dial("unix", path) // queued, never accepted
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	missing := "unix://" + filepath.Join(t.TempDir(), "missing.sock")
	o := ServerOptions{Source: newFakeSource(nil), Metrics: config.Metrics{PHPFPM: []config.PoolStatus{
		{Address: address, Path: "/status", Pool: "up", Listen: "unix://" + path},
		{Address: missing, Path: "/status", Pool: "down", Listen: "unix://" + path},
	}}}
	mfs := parseMetrics(t, scrape(t, o))
	for _, pool := range []string{"up", "down"} {
		if v := value(t, mfs, "phpfpm_listen_queue", map[string]string{"pool": pool}); v != 1 {
			t.Errorf("phpfpm_listen_queue{pool=%s} = %v, want 1", pool, v)
		}
		if v := value(t, mfs, "phpfpm_listen_queue_length", map[string]string{"pool": pool}); v < 1 {
			t.Errorf("phpfpm_listen_queue_length{pool=%s} = %v, want the backlog", pool, v)
		}
	}
	if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": "down"}); v != 0 {
		t.Errorf("phpfpm_up{pool=down} = %v", v)
	}
}
