package healthcheck

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/fastcgi/fpmtest"

	dto "github.com/prometheus/client_model/go"

	"github.com/phpinit/phpinit/config"
)

// stubStatusPage is what nginx 1.22's stub_status answers, trailing spaces
// included.
const stubStatusPage = "Active connections: 291 \nserver accepts handled requests\n 16630948 16630947 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n"

func TestParseStubStatus(t *testing.T) {
	st, err := parseStubStatus(stubStatusPage)
	want := stubStatus{active: 291, accepted: 16630948, handled: 16630947, requests: 31070465, reading: 6, writing: 179, waiting: 106}
	if err != nil || st != want {
		t.Errorf("got %+v %v, want %+v", st, err, want)
	}
	for _, bad := range []string{
		"",
		"<html>502 Bad Gateway</html>",
		strings.Replace(stubStatusPage, "291", "many", 1),
		strings.Replace(stubStatusPage, "Waiting:", "Idle:", 1),
		strings.Replace(stubStatusPage, " 31070465", "", 1),
	} {
		if _, err := parseStubStatus(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestNginxMetrics(t *testing.T) {
	page := stubStatusPage
	code := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		fmt.Fprint(w, page)
	}))
	defer srv.Close()
	o := ServerOptions{Source: newFakeSource(nil), Metrics: config.Metrics{Nginx: srv.URL + "/stub_status"}}

	mfs := parseMetrics(t, scrape(t, o))
	for name, want := range map[string]struct {
		v   float64
		typ dto.MetricType
	}{
		"nginx_up":                   {1, dto.MetricType_GAUGE},
		"nginx_connections_active":   {291, dto.MetricType_GAUGE},
		"nginx_connections_accepted": {16630948, dto.MetricType_COUNTER},
		"nginx_connections_handled":  {16630947, dto.MetricType_COUNTER},
		"nginx_connections_reading":  {6, dto.MetricType_GAUGE},
		"nginx_connections_writing":  {179, dto.MetricType_GAUGE},
		"nginx_connections_waiting":  {106, dto.MetricType_GAUGE},
		"nginx_http_requests_total":  {31070465, dto.MetricType_COUNTER},
	} {
		if got := value(t, mfs, name, nil); got != want.v || mfs[name].GetType() != want.typ {
			t.Errorf("%s = %v %v, want %v %v", name, got, mfs[name].GetType(), want.v, want.typ)
		}
	}

	for _, tc := range []struct {
		name string
		page string
		code int
	}{
		{"broken page", "hello", 200},
		{"not found", stubStatusPage, 404},
	} {
		page, code = tc.page, tc.code
		mfs := parseMetrics(t, scrape(t, o))
		if v := value(t, mfs, "nginx_up", nil); v != 0 || len(mfs["nginx_connections_active"].GetMetric()) != 0 {
			t.Errorf("%s: nginx_up %v, %d other series", tc.name, v, len(mfs["nginx_connections_active"].GetMetric()))
		}
		if _, ok := mfs["phpinit_build_info"]; !ok {
			t.Errorf("%s: a failed scrape failed the page", tc.name)
		}
	}
}

func TestNginxScrapeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newNginxCollector(srv.URL, slog.New(slog.DiscardHandler))
	c.timeout = 100 * time.Millisecond
	start := time.Now()
	if _, err := c.scrape(); err == nil {
		t.Error("scraped a hanging server")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 100ms timeout", d)
	}
}

func TestNginxNotConfigured(t *testing.T) {
	mfs := parseMetrics(t, scrape(t, ServerOptions{Source: newFakeSource(nil)}))
	for name := range mfs {
		if strings.HasPrefix(name, "nginx_") || strings.HasPrefix(name, "phpfpm_") {
			t.Errorf("%s without metrics config", name)
		}
	}
}

// startMetricsPHPFPM runs the real php-fpm8.2 (fpmtest) and returns its address.
func startMetricsPHPFPM(t *testing.T) string { return fpmtest.Start(t) }

func TestPHPFPMMetrics(t *testing.T) {
	address := startMetricsPHPFPM(t)
	missing := "unix://" + filepath.Join(t.TempDir(), "missing.sock")
	o := ServerOptions{Source: newFakeSource(nil), Metrics: config.Metrics{PHPFPM: []config.PoolStatus{
		{Address: address, Path: "/status"},
		{Address: missing, Path: "/status"},
		// The same pool again: labelled by its address, not exposed as
		// duplicate series (which would fail the scrape).
		{Address: address, Path: "/status"},
	}}}
	mfs := parseMetrics(t, scrape(t, o))
	if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": address}); v != 1 {
		t.Errorf("phpfpm_up{pool=%s} = %v", address, v)
	}

	if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": "www"}); v != 1 {
		t.Errorf("phpfpm_up{pool=www} = %v", v)
	}
	if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": missing}); v != 0 {
		t.Errorf("phpfpm_up for the missing socket = %v", v)
	}
	if v := value(t, mfs, "phpfpm_accepted_connections", map[string]string{"pool": "www"}); v < 1 {
		t.Errorf("phpfpm_accepted_connections = %v, want >= 1", v)
	}
	if v := value(t, mfs, "phpfpm_total_processes", map[string]string{"pool": "www"}); v < 1 || v > 2 {
		// static, max_children 2; the second worker may still be forking.
		t.Errorf("phpfpm_total_processes = %v, want 1..2 (pm.max_children, static)", v)
	}
	// Types as hipages/php-fpm_exporter publishes them.
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	for name, typ := range map[string]dto.MetricType{
		"phpfpm_up": gauge, "phpfpm_start_since": counter, "phpfpm_accepted_connections": counter,
		"phpfpm_listen_queue": gauge, "phpfpm_max_listen_queue": counter, "phpfpm_listen_queue_length": gauge,
		"phpfpm_idle_processes": gauge, "phpfpm_active_processes": gauge, "phpfpm_total_processes": gauge,
		"phpfpm_max_active_processes": counter, "phpfpm_max_children_reached": counter, "phpfpm_slow_requests": counter,
	} {
		mf, ok := mfs[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if mf.GetType() != typ {
			t.Errorf("%s is %v, want %v", name, mf.GetType(), typ)
		}
		for _, m := range mf.GetMetric() {
			if lv := labelValues(m); len(lv) != 1 || lv["pool"] == "" {
				t.Errorf("%s labels %v, want pool only", name, lv)
			}
		}
	}
	// The unreachable pool has only phpfpm_up.
	if n := len(mfs["phpfpm_accepted_connections"].GetMetric()); n != 2 {
		t.Errorf("%d accepted_connections series, want 2", n)
	}
}

// An unreachable pool is phpfpm_up 0, labelled by its address.
func TestPHPFPMUnreachable(t *testing.T) {
	missing := "tcp://127.0.0.1:1"
	o := ServerOptions{Source: newFakeSource(nil), Metrics: config.Metrics{PHPFPM: []config.PoolStatus{{Address: missing, Path: "/status"}}}}
	mfs := parseMetrics(t, scrape(t, o))
	if v := value(t, mfs, "phpfpm_up", map[string]string{"pool": missing}); v != 0 || len(mfs["phpfpm_up"].GetMetric()) != 1 {
		t.Errorf("phpfpm_up = %v, %d series", v, len(mfs["phpfpm_up"].GetMetric()))
	}
}
