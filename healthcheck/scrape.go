package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/fastcgi"
	"github.com/phpinit/phpinit/internal/sockdiag"
)

// scrapeTimeout bounds each scrape of php-fpm or nginx, so that a wedged pool
// slows /metrics by this much at most (pools are scraped in parallel).
const scrapeTimeout = 2 * time.Second

// The php-fpm and nginx metrics keep the names, labels and types of
// hipages/php-fpm_exporter (phpfpm/exporter.go) and
// nginxinc/nginx-prometheus-exporter (collector/nginx.go), so dashboards and
// alerts written for those exporters work unchanged. Both publish some
// counters without the _total suffix; we keep their names as they are.

type poolMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(*fastcgi.PoolStatus) int64
}

// phpfpmCollector asks every configured pool for pm.status_path?json at
// scrape time.
type phpfpmCollector struct {
	pools   []config.PoolStatus
	timeout time.Duration
	log     *slog.Logger
	up      *prometheus.Desc
	metrics []poolMetric
	// queue and queueLen are listen_queue and listen_queue_length, which
	// come from the kernel for a unix listener.
	queue, queueLen *prometheus.Desc
	listenQueue     func(path string) (sockdiag.UnixQueue, error)

	mu    sync.Mutex
	names []string // per pool: the name its status page last reported
}

func newPHPFPMCollector(pools []config.PoolStatus, logger *slog.Logger) *phpfpmCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("phpfpm_"+name, help, []string{"pool"}, nil)
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	return &phpfpmCollector{
		pools:       pools,
		timeout:     scrapeTimeout,
		log:         logger,
		up:          d("up", "Could PHP-FPM be reached?"),
		queue:       d("listen_queue", "The number of requests in the queue of pending connections."),
		queueLen:    d("listen_queue_length", "The size of the socket queue of pending connections."),
		listenQueue: sockdiag.UnixListenQueue,
		names:       make([]string, len(pools)),
		metrics: []poolMetric{
			{d("start_since", "The number of seconds since FPM has started."), counter, func(s *fastcgi.PoolStatus) int64 { return s.StartSince }},
			{d("accepted_connections", "The number of requests accepted by the pool."), counter, func(s *fastcgi.PoolStatus) int64 { return s.AcceptedConn }},
			{d("max_listen_queue", "The maximum number of requests in the queue of pending connections since FPM has started."), counter, func(s *fastcgi.PoolStatus) int64 { return s.MaxListenQueue }},
			{d("idle_processes", "The number of idle processes."), gauge, func(s *fastcgi.PoolStatus) int64 { return s.IdleProcesses }},
			{d("active_processes", "The number of active processes."), gauge, func(s *fastcgi.PoolStatus) int64 { return s.ActiveProcesses }},
			{d("total_processes", "The number of idle + active processes."), gauge, func(s *fastcgi.PoolStatus) int64 { return s.TotalProcesses }},
			{d("max_active_processes", "The maximum number of active processes since FPM has started."), counter, func(s *fastcgi.PoolStatus) int64 { return s.MaxActiveProcesses }},
			{d("max_children_reached", "The number of times the process limit has been reached."), counter, func(s *fastcgi.PoolStatus) int64 { return s.MaxChildrenReached }},
			{d("slow_requests", "The number of requests that exceeded request_slowlog_timeout."), counter, func(s *fastcgi.PoolStatus) int64 { return s.SlowRequests }},
		},
	}
}

func (c *phpfpmCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.queue
	ch <- c.queueLen
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

type poolResult struct {
	status *fastcgi.PoolStatus
	err    error
}

func (c *phpfpmCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	results := make([]poolResult, len(c.pools))
	var wg sync.WaitGroup
	for i, p := range c.pools {
		wg.Go(func() {
			results[i].status, results[i].err = fastcgi.GetPoolStatus(ctx, p.Address, p.Path)
		})
	}
	wg.Wait()

	seen := map[string]bool{}
	for i, r := range results {
		pool := c.label(i, r)
		if seen[pool] {
			// Two entries answered for the same pool name: label the second
			// by its address rather than emit duplicate series.
			pool = c.pools[i].Address
		}
		seen[pool] = true
		c.collectPool(ch, i, r, pool)
	}
}

// label is pool i's label: the configured pool, else the name its status
// page reported last (remembered, so that the series of a pool that goes
// down keeps its label), else the address.
func (c *phpfpmCollector) label(i int, r poolResult) string {
	if p := c.pools[i].Pool; p != "" {
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.err == nil {
		c.names[i] = r.status.Pool
	}
	if c.names[i] != "" {
		return c.names[i]
	}
	return c.pools[i].Address
}

func (c *phpfpmCollector) collectPool(ch chan<- prometheus.Metric, i int, r poolResult, pool string) {
	p := c.pools[i]
	kq, kernel := c.kernelQueue(p)
	if r.err != nil {
		c.log.Debug("cannot scrape php-fpm status", "pool", pool, "address", p.Address, "path", p.Path, "err", r.err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0, pool)
		if kernel {
			// The queue is worth most when the pool cannot answer.
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(kq.Pending), pool)
			ch <- prometheus.MustNewConstMetric(c.queueLen, prometheus.GaugeValue, float64(kq.Backlog), pool)
		}
		return
	}
	st := r.status
	queue, queueLen := st.ListenQueue, st.ListenQueueLen
	if kernel {
		queue, queueLen = int64(kq.Pending), int64(kq.Backlog)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1, pool)
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(queue), pool)
	ch <- prometheus.MustNewConstMetric(c.queueLen, prometheus.GaugeValue, float64(queueLen), pool)
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.value(st)), pool)
	}
}

// kernelQueue reads the accept queue of the pool's unix listener; php-fpm
// measures it only for TCP (fpm_socket_get_listening_queue uses TCP_INFO).
func (c *phpfpmCollector) kernelQueue(p config.PoolStatus) (sockdiag.UnixQueue, bool) {
	path, ok := strings.CutPrefix(p.Listen, "unix://")
	if !ok {
		return sockdiag.UnixQueue{}, false
	}
	q, err := c.listenQueue(path)
	if err != nil {
		c.log.Debug("cannot read listen queue", "listen", p.Listen, "err", err)
		return sockdiag.UnixQueue{}, false
	}
	return q, true
}

// nginxCollector reads nginx's stub_status page at scrape time.
type nginxCollector struct {
	url     string
	client  *http.Client
	timeout time.Duration
	log     *slog.Logger

	up, active, accepted, handled, reading, writing, waiting, requests *prometheus.Desc
}

func newNginxCollector(url string, logger *slog.Logger) *nginxCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("nginx_"+name, help, nil, nil)
	}
	return &nginxCollector{
		url: url,
		// No proxy: stub_status is local, and a container's HTTP_PROXY
		// must not see it.
		client:   &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		timeout:  scrapeTimeout,
		log:      logger,
		up:       d("up", "Status of the last metric scrape"),
		active:   d("connections_active", "Active client connections"),
		accepted: d("connections_accepted", "Accepted client connections"),
		handled:  d("connections_handled", "Handled client connections"),
		reading:  d("connections_reading", "Connections where NGINX is reading the request header"),
		writing:  d("connections_writing", "Connections where NGINX is writing the response back to the client"),
		waiting:  d("connections_waiting", "Idle client connections"),
		requests: d("http_requests_total", "Total http requests"),
	}
}

func (c *nginxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.active, c.accepted, c.handled, c.reading, c.writing, c.waiting, c.requests} {
		ch <- d
	}
}

func (c *nginxCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.scrape()
	if err != nil {
		c.log.Debug("cannot scrape nginx stub_status", "url", c.url, "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(c.up, gauge, 1)
	ch <- prometheus.MustNewConstMetric(c.active, gauge, float64(st.active))
	ch <- prometheus.MustNewConstMetric(c.accepted, counter, float64(st.accepted))
	ch <- prometheus.MustNewConstMetric(c.handled, counter, float64(st.handled))
	ch <- prometheus.MustNewConstMetric(c.reading, gauge, float64(st.reading))
	ch <- prometheus.MustNewConstMetric(c.writing, gauge, float64(st.writing))
	ch <- prometheus.MustNewConstMetric(c.waiting, gauge, float64(st.waiting))
	ch <- prometheus.MustNewConstMetric(c.requests, counter, float64(st.requests))
}

func (c *nginxCollector) scrape() (stubStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return stubStatus{}, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return stubStatus{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return stubStatus{}, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return stubStatus{}, err
	}
	return parseStubStatus(string(body))
}

// stubStatus is ngx_http_stub_status_module's page:
//
//	Active connections: 291
//	server accepts handled requests
//	 16630948 16630948 31070465
//	Reading: 6 Writing: 179 Waiting: 106
type stubStatus struct {
	active, accepted, handled, requests, reading, writing, waiting int64
}

var errStubStatus = errors.New("not an nginx stub_status page")

func parseStubStatus(s string) (stubStatus, error) {
	var st stubStatus
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) != 4 || strings.TrimSpace(lines[1]) != "server accepts handled requests" {
		return st, errStubStatus
	}
	active, ok := strings.CutPrefix(strings.TrimSpace(lines[0]), "Active connections:")
	if !ok {
		return st, errStubStatus
	}
	counts := strings.Fields(lines[2])
	rww := strings.Fields(lines[3])
	if len(counts) != 3 || len(rww) != 6 || rww[0] != "Reading:" || rww[2] != "Writing:" || rww[4] != "Waiting:" {
		return st, errStubStatus
	}
	var errs []error
	num := func(f string) int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		errs = append(errs, err)
		return n
	}
	st = stubStatus{
		active:   num(active),
		accepted: num(counts[0]),
		handled:  num(counts[1]),
		requests: num(counts[2]),
		reading:  num(rww[1]),
		writing:  num(rww[3]),
		waiting:  num(rww[5]),
	}
	if err := errors.Join(errs...); err != nil {
		return stubStatus{}, fmt.Errorf("%w: %w", errStubStatus, err)
	}
	return st, nil
}
