package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

// fakeSource is a Source whose snapshot and answers the test sets.
type fakeSource struct {
	snap   atomic.Pointer[supervisor.Snapshot]
	ping   func(ctx context.Context) error
	reload func(ctx context.Context, name string) error

	mu       sync.Mutex
	reloaded []string
}

func (f *fakeSource) Snapshot() *supervisor.Snapshot { return f.snap.Load() }

func (f *fakeSource) Ping(ctx context.Context) error {
	if f.ping == nil {
		return nil
	}
	return f.ping(ctx)
}

func (f *fakeSource) Reload(ctx context.Context, name string) error {
	f.mu.Lock()
	f.reloaded = append(f.reloaded, name)
	f.mu.Unlock()
	if f.reload == nil {
		return nil
	}
	return f.reload(ctx, name)
}

func newFakeSource(sn *supervisor.Snapshot) *fakeSource {
	f := &fakeSource{}
	f.snap.Store(sn)
	return f
}

// readySnapshot has nginx and php-fpm ready and a non-critical worker in
// BACKOFF: ready as a whole.
func readySnapshot() *supervisor.Snapshot {
	return &supervisor.Snapshot{Programs: []supervisor.ProgramStatus{
		{Name: "php-fpm", State: "RUNNING", Critical: true, Ready: true},
		{Name: "nginx", State: "RUNNING", Critical: true, Ready: true},
		{Name: "worker", State: "BACKOFF", Critical: false, ProbeError: "exit status 1"},
	}}
}

func newTestServer(t *testing.T, o ServerOptions) *Server {
	t.Helper()
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do serves one request and returns the status and body.
func do(t *testing.T, h http.Handler, method, target string, header ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func decodeHealth(t *testing.T, body string) Health {
	t.Helper()
	var h Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return h
}

func TestHealthz(t *testing.T) {
	src := newFakeSource(readySnapshot())
	h := newTestServer(t, ServerOptions{Source: src}).Handler()

	for _, path := range []string{"/healthz", "/livez"} {
		code, body := do(t, h, "GET", path)
		if code != 200 || decodeHealth(t, body).Status != "ok" {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}

	src.ping = func(context.Context) error { return supervisor.ErrNotRunning }
	code, body := do(t, h, "GET", "/healthz")
	if hb := decodeHealth(t, body); code != 503 || hb.Status != "unavailable" ||
		hb.Reason != "supervision loop not responding: phpinit is not running" {
		t.Errorf("ping error: %d %s", code, body)
	}
}

// A loop that does not answer within pingTimeout fails /healthz: the real
// 2s bound, over a real listener.
func TestHealthzPingBlocks(t *testing.T) {
	src := newFakeSource(readySnapshot())
	src.ping = func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	s := newTestServer(t, ServerOptions{Source: src, Listen: "127.0.0.1:0"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })

	start := time.Now()
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if d := time.Since(start); d < pingTimeout || d > pingTimeout+2*time.Second {
		t.Errorf("took %v, want about %v", d, pingTimeout)
	}
	if resp.StatusCode != 503 || !strings.Contains(string(body), "deadline exceeded") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// /healthz does not look at the children.
func TestHealthzIgnoresPrograms(t *testing.T) {
	sn := readySnapshot()
	sn.Programs[0].State, sn.Programs[0].Ready = "FATAL", false
	h := newTestServer(t, ServerOptions{Source: newFakeSource(sn)}).Handler()
	if code, body := do(t, h, "GET", "/healthz"); code != 200 {
		t.Errorf("%d %s", code, body)
	}
}

func TestReadyz(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(sn *supervisor.Snapshot)
		code   int
		reason string
	}{
		{"ready", func(*supervisor.Snapshot) {}, 200, ""},
		{"critical starting", func(sn *supervisor.Snapshot) {
			sn.Programs[1].State, sn.Programs[1].Ready = "STARTING", false
		}, 503, "nginx STARTING"},
		{"running, probe failing", func(sn *supervisor.Snapshot) {
			sn.Programs[0].Ready, sn.Programs[0].ProbeError = false, "connection refused"
		}, 503, "php-fpm not ready: connection refused"},
		{"two not ready", func(sn *supervisor.Snapshot) {
			sn.Programs[0].State, sn.Programs[0].Ready = "BACKOFF", false
			sn.Programs[1].Ready = false
		}, 503, "php-fpm BACKOFF; nginx not ready"},
		{"draining", func(sn *supervisor.Snapshot) { sn.Draining = true }, 503, "draining"},
		{"stopping", func(sn *supervisor.Snapshot) { sn.Stopping = true }, 503, "stopping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sn := readySnapshot()
			tc.change(sn)
			h := newTestServer(t, ServerOptions{Source: newFakeSource(sn)}).Handler()
			code, body := do(t, h, "GET", "/readyz")
			hb := decodeHealth(t, body)
			if code != tc.code || hb.Reason != tc.reason || len(hb.Programs) != 3 {
				t.Errorf("got %d %s, want %d reason %q", code, body, tc.code, tc.reason)
			}
			if want := map[bool]string{true: "ok", false: "unavailable"}[tc.code == 200]; hb.Status != want {
				t.Errorf("status %q, want %q", hb.Status, want)
			}
		})
	}

	t.Run("no snapshot yet", func(t *testing.T) {
		h := newTestServer(t, ServerOptions{Source: newFakeSource(nil)}).Handler()
		code, body := do(t, h, "GET", "/readyz")
		if hb := decodeHealth(t, body); code != 503 || hb.Reason != "starting" || hb.Programs == nil {
			t.Errorf("%d %s", code, body)
		}
	})
}

// The body carries per-program detail and nothing else: no environment,
// config or secrets.
func TestHealthBodyShape(t *testing.T) {
	sn := readySnapshot()
	sn.Programs[0].PID = 42
	sn.Programs[0].Exits = map[string]uint64{"failure": 1}
	h := newTestServer(t, ServerOptions{Source: newFakeSource(sn)}).Handler()
	req := httptest.NewRequest("GET", "/readyz", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var raw struct {
		Status   string           `json:"status"`
		Programs []map[string]any `json:"programs"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, p := range raw.Programs {
		for k := range p {
			if !slices.Contains([]string{"name", "state", "ready", "probe_error"}, k) {
				t.Errorf("unexpected key %q in %v", k, p)
			}
		}
	}
	if got := raw.Programs[2]; got["name"] != "worker" || got["state"] != "BACKOFF" || got["ready"] != false || got["probe_error"] != "exit status 1" {
		t.Errorf("worker: %v", got)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	h := newTestServer(t, ServerOptions{Source: newFakeSource(readySnapshot())}).Handler()
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/metrics", 200},
		{"HEAD", "/healthz", 200},
		{"HEAD", "/readyz", 200},
		{"POST", "/healthz", 405},
		{"PUT", "/readyz", 405},
		{"DELETE", "/metrics", 405},
		{"GET", "/", 404},
		{"GET", "/healthz/", 404},
		{"GET", "/nope", 404},
		{"POST", "/-/reload", 404}, // lifecycle disabled
		{"GET", "/-/reload", 404},
	} {
		if code, body := do(t, h, tc.method, tc.path); code != tc.code {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.code)
		}
	}
}

func TestReloadEndpoint(t *testing.T) {
	src := newFakeSource(readySnapshot())
	src.reload = func(_ context.Context, name string) error {
		switch name {
		case "nope":
			return fmt.Errorf("%w: %q", supervisor.ErrUnknownProgram, name)
		case "nginx":
			return errors.New("nginx: check failed: exit status 1")
		}
		return nil
	}
	h := newTestServer(t, ServerOptions{Source: src, EnableLifecycle: true}).Handler()
	for _, tc := range []struct {
		method, path string
		header       []string
		code         int
		body         string
	}{
		{"POST", "/-/reload", nil, 200, `{"ok":true}`},
		{"POST", "/-/reload?program=php-fpm", nil, 200, `{"ok":true}`},
		{"POST", "/-/reload?program=nope", nil, 404, `"kind":"unknown_program"`},
		{"POST", "/-/reload?program=nginx", nil, 500, `check failed`},
		{"GET", "/-/reload", nil, 405, ""},
		{"POST", "/-/reload", []string{"Sec-Fetch-Site", "cross-site"}, 403, ""},
	} {
		code, body := do(t, h, tc.method, tc.path, tc.header...)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}
	if want := []string{"", "php-fpm", "nope", "nginx"}; !slices.Equal(src.reloaded, want) {
		t.Errorf("reloaded %q, want %q", src.reloaded, want)
	}
}

func TestStartPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newTestServer(t, ServerOptions{Source: newFakeSource(nil), Listen: ln.Addr().String()})
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Start on a taken port: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("Close after a failed Start: %v", err)
	}
}

func TestStartServeClose(t *testing.T) {
	s := newTestServer(t, ServerOptions{Source: newFakeSource(readySnapshot()), Listen: "127.0.0.1:0"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr().String()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz %d", resp.StatusCode)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/readyz"); err == nil {
		t.Error("still serving after Close")
	}
}

// A request with huge headers is refused before any handler runs.
func TestMaxHeaderBytes(t *testing.T) {
	s := newTestServer(t, ServerOptions{Source: newFakeSource(readySnapshot()), Listen: "127.0.0.1:0"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/readyz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}
