package integration

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// phpfpm_up keeps the pool label the pool's status page reported while the
// pool is down (it used to switch to the socket path), so that
// phpfpm_up{pool="www"} == 0 fires.
func TestPHPFPMUpKeepsPoolLabelWhenDown(t *testing.T) {
	st := newHealthSite(t, healthOpts{gate: true, extra: `metrics:
  phpfpm: [{address: "unix://@DIR@/run/php.sock", path: /status}]`})
	st.openFPMGate(t)
	p := startPID1(t, "run", "--config", st.config())
	waitReadyz(t, st, 200, 30*time.Second)
	if v := mustMetric(t, scrapeMetrics(t, st), "phpfpm_up", "pool", "www"); v != 1 {
		t.Fatalf("phpfpm_up{pool=www} = %v while up", v)
	}
	st.closeFPMGate(t)
	syscall.Kill(masterPID(t, p, "php-fpm"), syscall.SIGKILL)
	waitReadyz(t, st, http.StatusServiceUnavailable, 30*time.Second)
	fams := scrapeMetrics(t, st)
	if v := mustMetric(t, fams, "phpfpm_up", "pool", "www"); v != 0 || len(fams["phpfpm_up"].GetMetric()) != 1 {
		t.Errorf("phpfpm_up{pool=www} = %v with %d series while php-fpm is down, want 0 and 1", v, len(fams["phpfpm_up"].GetMetric()))
	}
	st.openFPMGate(t)
	waitReadyz(t, st, 200, 30*time.Second)
}

// With pm.max_requests = 1 every request ends its worker; the CPU time of
// php-fpm's tree must still only grow (it used to drop by the time of each
// recycled worker). PSS is reported next to RSS and is smaller: the
// workers share the master's pages.
func TestProgramCPUMonotonicWhileWorkersRecycle(t *testing.T) {
	st := newHealthSite(t, healthOpts{})
	healthEdit(t, st.path("conf/php-fpm/www.conf"), "pm.max_children = 24", "pm.max_children = 4\npm.max_requests = 1")
	if err := os.WriteFile(st.path("www/burn.php"), []byte(`<?php $x = 0; for ($i = 0; $i < 4000000; $i++) { $x += $i % 7; } echo $x, "\n";`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPID1(t, "run", "--config", st.config())
	waitReadyz(t, st, 200, 30*time.Second)
	waitHTTP(t, st.url("/burn.php"), 200, 20*time.Second)
	cpu := func() float64 {
		return mustMetric(t, scrapeMetrics(t, st), "phpinit_program_cpu_seconds_total", "program", "php-fpm")
	}
	first := cpu()
	last, drops := first, 0
	for round := range 30 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if code, _, err := get(st.url("/burn.php")); code != 200 {
					t.Errorf("round %d: burn.php %d %v", round, code, err)
				}
			})
		}
		wg.Wait()
		if v := cpu(); v < last {
			drops++
			t.Errorf("round %d: php-fpm cpu seconds went from %v down to %v", round, last, v)
		} else {
			last = v
		}
	}
	if last <= first {
		t.Errorf("php-fpm cpu seconds %v after 120 CPU-bound requests, %v before", last, first)
	}
	t.Logf("php-fpm cpu seconds %v -> %v, %d drops", first, last, drops)

	fams := scrapeMetrics(t, st)
	rss := mustMetric(t, fams, "phpinit_program_memory_rss_bytes", "program", "php-fpm")
	pss := mustMetric(t, fams, "phpinit_program_memory_pss_bytes", "program", "php-fpm")
	t.Logf("php-fpm rss %.0f, pss %.0f", rss, pss)
	if pss <= 0 || pss >= rss {
		t.Errorf("php-fpm pss %v, rss %v: want 0 < pss < rss", pss, rss)
	}
	_ = p
}

// php-fpm reports listen queue 0 on a unix socket whatever waits: the
// metric comes from the kernel's accept queue. Two workers, both busy, and
// three more requests waiting in the pool socket's backlog; the status page
// comes from pm.status_listen, which answers while every worker is busy.
func TestPHPFPMListenQueueUnixBusy(t *testing.T) {
	st := newHealthSite(t, healthOpts{extra: `metrics:
  phpfpm: [{address: "unix://@DIR@/run/status.sock", path: /status, pool: www, listen: "unix://@DIR@/run/php.sock"}]`})
	healthEdit(t, st.path("conf/php-fpm/www.conf"), "pm.max_children = 24",
		fmt.Sprintf("pm.max_children = 2\npm.status_listen = %s", st.path("run/status.sock")))
	startPID1(t, "run", "--config", st.config())
	waitReadyz(t, st, 200, 30*time.Second)
	fams := scrapeMetrics(t, st)
	if v := mustMetric(t, fams, "phpfpm_listen_queue", "pool", "www"); v != 0 {
		t.Errorf("phpfpm_listen_queue %v while idle", v)
	}
	if v := mustMetric(t, fams, "phpfpm_listen_queue_length", "pool", "www"); v <= 0 {
		t.Errorf("phpfpm_listen_queue_length %v, want the backlog", v)
	}

	long := &http.Client{Timeout: 10 * time.Minute}
	hang := func() {
		go func() {
			if resp, err := long.Get(st.url("/hang.php")); err == nil {
				resp.Body.Close()
			}
		}()
	}
	hang()
	hang()
	waitFor(t, "both workers busy", 30*time.Second, func() bool {
		v, ok := metricValue(scrapeMetrics(t, st), "phpfpm_active_processes", "pool", "www")
		return ok && v == 2
	})
	for range 3 {
		hang()
	}
	var q float64
	waitFor(t, "three requests queued", 30*time.Second, func() bool {
		q, _ = metricValue(scrapeMetrics(t, st), "phpfpm_listen_queue", "pool", "www")
		return q >= 3
	})
	t.Logf("phpfpm_listen_queue %v with 2 busy workers and 3 more requests", q)
	if v := mustMetric(t, scrapeMetrics(t, st), "phpfpm_up", "pool", "www"); v != 1 {
		t.Errorf("phpfpm_up %v: the status socket should answer while the workers are busy", v)
	}
}
