package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/supervisor"
)

const (
	// pingTimeout is how long /healthz waits for the supervision loop.
	pingTimeout = 2 * time.Second
	// refreshTimeout bounds how long /readyz and /metrics wait for the
	// readiness probes they ask for (each probe has its own timeout too).
	refreshTimeout = 2 * time.Second
	// reloadTimeout covers a reload check (the supervisor bounds one at
	// 30s) plus one coalesced behind it.
	reloadTimeout = 65 * time.Second
)

// Source is what the listener reads and asks; *supervisor.Supervisor is one.
type Source interface {
	Snapshot() *supervisor.Snapshot
	Ping(ctx context.Context) error
	Reload(ctx context.Context, name string) error
}

// readinessRefresher is a Source that probes readiness on demand
// (*supervisor.Supervisor: a program that has passed is probed only when
// asked). /readyz and /metrics ask it before reading the snapshot.
type readinessRefresher interface {
	RefreshReadiness(ctx context.Context) error
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Listen is host:port (http.listen); "" is an error here: the caller
	// skips the listener instead.
	Listen string
	// EnableLifecycle serves POST /-/reload.
	EnableLifecycle bool
	// MaxConnections bounds the connections held open at once
	// (http.max_connections); 0 is DefaultMaxConnections. It is capped at
	// a quarter of RLIMIT_NOFILE.
	MaxConnections int
	Source         Source
	// Metrics lists the php-fpm pools and nginx stub_status to scrape.
	Metrics config.Metrics
	// LogDrops feeds phpinit_log_lines_dropped_total (logsink.Hub.Dropped);
	// nil: none.
	LogDrops func() []logsink.Drop
	// ConfigReloads feeds phpinit_config_reloads_total, by result ok or
	// invalid; nil: zeros.
	ConfigReloads func() map[string]uint64
	// WatchErrors feeds phpinit_watch_errors_total; nil: not exported.
	WatchErrors func() uint64
	// Hooks feeds phpinit_hook_duration_seconds (hooks.Result.Durations).
	Hooks []hooks.HookDuration
	// Logger gets failures at debug; nil discards.
	Logger *slog.Logger
	// Collectors are registered with the built-in ones.
	Collectors []prometheus.Collector

	proc procFS // where process accounting is read; tests use a fake
}

// Server is the health and metrics listener.
type Server struct {
	o       ServerOptions
	log     *slog.Logger
	handler http.Handler
	// metrics is the /metrics handler, built at the first scrape: the
	// registry and its collectors cost memory a phpinit nobody scrapes
	// does not need.
	metricsOnce sync.Once
	metrics     http.Handler
	srv         *http.Server
	ln          net.Listener
	limit       *connLimit
	done        chan struct{}
}

// NewServer builds the handlers. It does not listen; the metrics registry
// is built at the first scrape.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Source == nil {
		return nil, errors.New("healthcheck: no source")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.proc.root == "" {
		o.proc = hostProcFS()
	}
	s := &Server{o: o, log: o.Logger, limit: newConnLimit(capMaxConnections(o.MaxConnections))}
	s.handler = s.routes()
	return s, nil
}

// registry builds the metrics registry with every collector.
func (s *Server) registry() (*prometheus.Registry, error) {
	o := s.o
	reg := prometheus.NewRegistry()
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPHPInitCollector(o),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "phpinit_http_connections_open",
			Help: "Connections the health and metrics listener holds open.",
		}, func() float64 { return float64(s.limit.open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "phpinit_http_connections_dropped_total",
			Help: "Connections the health and metrics listener closed because http.max_connections were open.",
		}, func() float64 { return float64(s.limit.dropped.Load()) }),
	}
	if len(o.Metrics.PHPFPM) > 0 {
		cs = append(cs, newPHPFPMCollector(o.Metrics.PHPFPM, o.Logger))
	}
	if o.Metrics.Nginx != "" {
		cs = append(cs, newNginxCollector(o.Metrics.Nginx, o.Logger))
	}
	cs = append(cs, o.Collectors...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cannot register metrics: %w", err)
		}
	}
	return reg, nil
}

// serveMetrics refreshes readiness (phpinit_program_ready), then serves
// the registry, built on the first call.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s.metricsOnce.Do(func() {
		reg, err := s.registry()
		if err != nil {
			s.log.Error("metrics disabled", "err", err)
			s.metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			})
			return
		}
		s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			// One broken collector must not blank the page.
			ErrorHandling:       promhttp.ContinueOnError,
			ErrorLog:            promErrorLog{s.log},
			MaxRequestsInFlight: 4,
		})
	})
	s.refreshReadiness(r.Context())
	s.metrics.ServeHTTP(w, r)
}

// refreshReadiness asks the source to probe readiness that is older than
// its interval, so the snapshot read next is current.
func (s *Server) refreshReadiness(ctx context.Context) {
	rr, ok := s.o.Source.(readinessRefresher)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	if err := rr.RefreshReadiness(ctx); err != nil {
		s.log.Debug("readiness not refreshed", "err", err)
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// "GET" patterns also match HEAD; any other method gets 405 with an
	// Allow header, and any other path 404 (net/http ServeMux, Go 1.22+).
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /livez", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	if s.o.EnableLifecycle {
		// A browser page must not be able to trigger a reload with a
		// cross-site form post.
		mux.Handle("POST /-/reload", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.reload)))
	}
	return mux
}

// Handler serves every endpoint; for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on Listen (an error if the port is taken) and serves in a
// goroutine until Close.
func (s *Server) Start() error {
	if s.o.Listen == "" {
		return errors.New("cannot start http listener: no address")
	}
	ln, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.o.Listen, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler: s.handler,
		// A connection that sends nothing holds a slot this long at most
		// (and less when the listener is full: see connLimit).
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // /-/reload extends its own
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ConnState:         s.limit.connState,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.limit.listener(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http listener failed", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.log.Info("http listener started", "addr", ln.Addr().String(), "max_connections", s.limit.max)
	return nil
}

// Addr is the address Start listens on (useful with port 0); nil before.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops accepting, waits for requests in flight until ctx ends, then
// closes what is left.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}

// Health is the JSON body of /healthz and /readyz.
type Health struct {
	// Status is "ok" (HTTP 200) or "unavailable" (HTTP 503).
	Status string `json:"status"`
	// Reason says why when unavailable, e.g. "nginx STARTING" or "draining".
	Reason   string          `json:"reason,omitempty"`
	Programs []ProgramHealth `json:"programs"`
}

// ProgramHealth is one program in a Health body.
type ProgramHealth struct {
	Name       string `json:"name"`
	State      string `json:"state"`
	Ready      bool   `json:"ready"`
	ProbeError string `json:"probe_error,omitempty"`
}

// Health statuses.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable"
)

// healthz answers 200 while the supervision loop answers a ping; it does
// not look at the children (restarting them is phpinit's job, not the
// orchestrator's).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
	defer cancel()
	why := ""
	if err := s.o.Source.Ping(ctx); err != nil {
		why = "supervision loop not responding: " + err.Error()
		s.log.Debug("healthz failed", "err", err)
	}
	writeHealth(w, s.o.Source.Snapshot(), why)
}

// readyz answers 200 when every critical program is RUNNING and ready, and
// 503 while phpinit drains or stops, so load balancers move away first.
// Readiness older than the probe's interval is probed first.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.refreshReadiness(r.Context())
	sn := s.o.Source.Snapshot()
	writeHealth(w, sn, notReady(sn))
}

// notReady is why sn is not ready, or "".
func notReady(sn *supervisor.Snapshot) string {
	switch {
	case sn == nil:
		return "starting"
	case sn.Stopping:
		return "stopping"
	case sn.Draining:
		return "draining"
	}
	var why []string
	for _, p := range sn.Programs {
		switch {
		case !p.Critical || p.Ready || p.OnRequest:
		case p.State != supervisor.Running.String():
			why = append(why, p.Name+" "+p.State)
		case p.ProbeError != "":
			why = append(why, p.Name+" not ready: "+p.ProbeError)
		default:
			why = append(why, p.Name+" not ready")
		}
	}
	return strings.Join(why, "; ")
}

func writeHealth(w http.ResponseWriter, sn *supervisor.Snapshot, why string) {
	body := Health{Status: StatusOK, Programs: []ProgramHealth{}}
	code := http.StatusOK
	if why != "" {
		body.Status, body.Reason, code = StatusUnavailable, why, http.StatusServiceUnavailable
	}
	if sn != nil {
		for _, p := range sn.Programs {
			body.Programs = append(body.Programs, ProgramHealth{
				Name: p.Name, State: p.State, Ready: p.Ready, ProbeError: p.ProbeError,
			})
		}
	}
	writeJSON(w, code, body)
}

// reload does what `phpinit ctl reload [PROGRAM]` does: check, then signal,
// every program with a reload signal, or ?program=NAME only.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	// A check may run for a while; the server's WriteTimeout is for the
	// quick endpoints.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(reloadTimeout + 5*time.Second))
	ctx, cancel := context.WithTimeout(r.Context(), reloadTimeout)
	defer cancel()
	name := r.URL.Query().Get("program")
	err := s.o.Source.Reload(ctx, name)
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	// The statuses and body are the control socket's.
	code, reply := control.Reply(name, err, r.Context().Err() != nil, ctx.Err() != nil, reloadTimeout)
	s.log.Info("reload over http failed", "program", name, "err", err)
	writeJSON(w, code, reply)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// promErrorLog sends promhttp's errors (a collector that failed) to debug.
type promErrorLog struct{ log *slog.Logger }

func (l promErrorLog) Println(v ...any) {
	l.log.Debug("metrics: " + strings.TrimSpace(fmt.Sprintln(v...)))
}
