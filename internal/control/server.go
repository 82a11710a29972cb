package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/supervisor"
)

// Supervisor is what the server needs of *supervisor.Supervisor; tests
// pass a fake.
type Supervisor interface {
	Snapshot() *supervisor.Snapshot
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	Reload(ctx context.Context, name string) error
	Signal(ctx context.Context, name string, sig syscall.Signal) error
}

var _ Supervisor = (*supervisor.Supervisor)(nil)

// OpTimeout bounds one operation on the server side: start and restart
// wait until the program is RUNNING, which a program in backoff may take
// long to reach, or never.
const OpTimeout = 60 * time.Second

const (
	// maxHeaderBytes is far above what our client sends; net/http answers
	// 431 beyond it.
	maxHeaderBytes = 8 << 10
	// maxBodyBytes bounds a request body; only signal has one, and it is
	// a few bytes.
	maxBodyBytes = 64 << 10
	// readHeaderTimeout and readTimeout drop a client that connects and
	// then sends nothing, or dribbles.
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	idleTimeout       = 60 * time.Second
)

// Server serves the control API until Close.
type Server struct {
	http   *http.Server
	cancel context.CancelFunc
	done   chan struct{}
}

// Serve answers requests on l (from Listen) in the background.
func Serve(l net.Listener, sup Supervisor, logger *slog.Logger) *Server {
	return serve(l, &handler{sup: sup, log: logger, euid: os.Geteuid(), opTimeout: OpTimeout})
}

func serve(l net.Listener, h *handler) *Server {
	// Operations in flight derive from base, so Close can end them rather
	// than wait up to OpTimeout for a start that will never finish.
	base, cancel := context.WithCancel(context.Background())
	hs := &http.Server{
		Handler:           h.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		// The write deadline is set once the request is read, so it has
		// to cover the operation.
		WriteTimeout:   h.opTimeout + 5*time.Second,
		IdleTimeout:    idleTimeout,
		MaxHeaderBytes: maxHeaderBytes,
		BaseContext:    func(net.Listener) context.Context { return base },
		ConnContext:    withPeer,
		ErrorLog:       slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	s := &Server{http: hs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("control socket stopped serving", "err", err)
		}
	}()
	return s
}

// Close stops accepting, cancels operations in flight and waits for their
// answers until ctx ends, then drops the connections left. Closing the
// listener removes the socket file.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		_ = s.http.Close()
	}
	<-s.done
	return err
}

type handler struct {
	sup       Supervisor
	log       *slog.Logger
	euid      int
	opTimeout time.Duration
}

func (h *handler) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", h.status)
	mux.HandleFunc("POST /v1/reload", h.reloadAll)
	mux.HandleFunc("POST /v1/programs/{name}/{verb}", h.program)
	mux.HandleFunc("GET /v1/env", h.execEnv)
	mux.HandleFunc("/v1/env", methodNotAllowed(http.MethodGet))
	// The method-less patterns catch the other methods, so a 405 is our
	// JSON error rather than ServeMux's plain text.
	mux.HandleFunc("/v1/status", methodNotAllowed(http.MethodGet))
	mux.HandleFunc("/v1/reload", methodNotAllowed(http.MethodPost))
	mux.HandleFunc("/v1/programs/{name}/{verb}", methodNotAllowed(http.MethodPost))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, KindBadRequest, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return h.guard(mux)
}

// guard refuses peers other than root and phpinit's user, and bounds the
// body, before any routing.
func (h *handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := peerFrom(r.Context())
		if !p.allowed(h.euid) {
			attrs := []any{"peer_uid", p.uid, "peer_pid", p.pid, "method", r.Method, "path", r.URL.Path}
			if p.err != nil {
				attrs = append(attrs, "err", p.err)
			}
			h.log.Warn("control request refused", attrs...)
			writeError(w, http.StatusForbidden, KindForbidden,
				fmt.Sprintf("forbidden: only root and uid %d may use the control socket", h.euid))
			return
		}
		if r.ContentLength > maxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, KindBadRequest, tooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

const tooLarge = "request body larger than 64 KiB"

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, KindBadRequest,
			fmt.Sprintf("method %s not allowed on %s: use %s", r.Method, r.URL.Path, allow))
	}
}

func (h *handler) status(w http.ResponseWriter, _ *http.Request) {
	sn := h.sup.Snapshot()
	if sn == nil {
		writeError(w, http.StatusServiceUnavailable, KindOperationFailed, errNoSnapshot.Error())
		return
	}
	writeJSON(w, http.StatusOK, sn)
}

func (h *handler) reloadAll(w http.ResponseWriter, r *http.Request) {
	if !readEmpty(w, r) {
		return
	}
	h.run(w, r, "all", []any{"op", "reload"}, func(ctx context.Context) error {
		return h.sup.Reload(ctx, "all")
	})
}

func (h *handler) program(w http.ResponseWriter, r *http.Request) {
	name, verb := r.PathValue("name"), r.PathValue("verb")
	if verb == "signal" {
		h.signal(w, r, name)
		return
	}
	if !isVerb(verb) {
		writeError(w, http.StatusNotFound, KindBadRequest,
			fmt.Sprintf("unknown operation %q: use start, stop, restart, reload or signal", verb))
		return
	}
	if !readEmpty(w, r) {
		return
	}
	op := h.sup.Start
	switch verb {
	case "stop":
		op = h.sup.Stop
	case "restart":
		op = h.sup.Restart
	case "reload":
		op = h.sup.Reload
	}
	h.run(w, r, name, []any{"op", verb}, func(ctx context.Context) error { return op(ctx, name) })
}

func (h *handler) signal(w http.ResponseWriter, r *http.Request, name string) {
	var req SignalRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, KindBadRequest, tooLarge)
			return
		}
		writeError(w, http.StatusBadRequest, KindBadRequest, fmt.Sprintf(`malformed body: want {"signal":"HUP"}: %v`, err))
		return
	}
	sig, err := config.ParseSignal(req.Signal)
	if err != nil {
		writeError(w, http.StatusBadRequest, KindBadRequest, err.Error())
		return
	}
	h.run(w, r, name, []any{"op", "signal", "signal", req.Signal}, func(ctx context.Context) error {
		return h.sup.Signal(ctx, name, sig)
	})
}

// run performs one operation under the server's timeout and answers.
// Every command is logged: it is an audit trail of who changed what.
func (h *handler) run(w http.ResponseWriter, r *http.Request, name string, attrs []any, fn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opTimeout)
	defer cancel()
	p := peerFrom(r.Context())
	begin := time.Now()
	err := fn(ctx)
	attrs = append(attrs, "program", name, "peer_uid", p.uid, "peer_pid", p.pid,
		"duration", time.Since(begin).Round(time.Millisecond))
	if err != nil {
		h.log.Info("control command failed", append(attrs, "err", err)...)
		status, reply := Reply(name, err, r.Context().Err() != nil, ctx.Err() != nil, h.opTimeout)
		writeJSON(w, status, reply)
		return
	}
	h.log.Info("control command done", attrs...)
	writeJSON(w, http.StatusOK, okResponse{OK: true})
}

// readEmpty drains a body an operation does not use, enforcing the limit.
func readEmpty(w http.ResponseWriter, r *http.Request) bool {
	_, err := io.Copy(io.Discard, r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, KindBadRequest, tooLarge)
		return false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, KindBadRequest, fmt.Sprintf("cannot read body: %v", err))
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, kind Kind, msg string) {
	writeJSON(w, status, &Error{Message: msg, Kind: kind})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(&Error{Message: "cannot encode the answer: " + err.Error(), Kind: KindOperationFailed})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
