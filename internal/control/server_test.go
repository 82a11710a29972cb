package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/phpinit/phpinit/supervisor"
)

func TestClientCallsEveryEndpoint(t *testing.T) {
	ts := startServer(t, 0)
	ctx := context.Background()

	sn, err := ts.client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sn, ts.sup.snap) {
		t.Errorf("Status = %+v, want %+v", sn, ts.sup.snap)
	}
	steps := []func() error{
		func() error { return ts.client.Do(ctx, "start", "nginx") },
		func() error { return ts.client.Do(ctx, "stop", "php-fpm") },
		func() error { return ts.client.Do(ctx, "restart", "all") },
		func() error { return ts.client.Do(ctx, "reload", "nginx") },
		func() error { return ts.client.Reload(ctx, "") },
		func() error { return ts.client.Reload(ctx, "php-fpm") },
		func() error { return ts.client.Signal(ctx, "HUP", "nginx") },
		func() error { return ts.client.Signal(ctx, "sigusr2", "all") },
		func() error { return ts.client.Signal(ctx, "10", "php-fpm") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []string{
		"start nginx", "stop php-fpm", "restart all", "reload nginx", "reload all",
		"reload php-fpm", "signal nginx 1", "signal all 12", "signal php-fpm 10",
	}
	if got := ts.sup.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %q\nwant    %q", got, want)
	}
	if log := ts.log.String(); !strings.Contains(log, `msg="control command done" op=start program=nginx peer_uid=`) {
		t.Errorf("no audit line for start in log:\n%s", log)
	}
}

func TestOperationErrors(t *testing.T) {
	ts := startServer(t, 0)
	ctx := context.Background()

	err := ts.client.Do(ctx, "start", "foo")
	wantAPIError(t, err, 404, KindUnknownProgram, `unknown program "foo"`)
	if !errors.Is(err, supervisor.ErrUnknownProgram) {
		t.Errorf("errors.Is(%v, ErrUnknownProgram) = false", err)
	}
	wantAPIError(t, ts.client.Signal(ctx, "HUP", "foo"), 404, KindUnknownProgram, `unknown program "foo"`)

	ts.sup.set(errors.New("nginx is FATAL: exit status 1"), false)
	wantAPIError(t, ts.client.Do(ctx, "restart", "nginx"), 500, KindOperationFailed, "nginx is FATAL: exit status 1")

	ts.sup.set(errors.New("nginx: check failed: exit status 1\nnginx: [emerg] unexpected \"}\""), false)
	wantAPIError(t, ts.client.Reload(ctx, "nginx"), 500, KindOperationFailed,
		"nginx: check failed: exit status 1\nnginx: [emerg] unexpected \"}\"")

	ts.sup.set(supervisor.ErrNotRunning, false)
	wantAPIError(t, ts.client.Do(ctx, "stop", "all"), 409, KindOperationFailed, supervisor.ErrNotRunning.Error())
}

func TestOperationTimeout(t *testing.T) {
	ts := startServer(t, 50*time.Millisecond)
	ts.sup.set(nil, true)
	err := ts.client.Do(context.Background(), "start", "nginx")
	wantAPIError(t, err, 504, KindOperationFailed, "nginx: not done within 50ms (it may still finish; see ctl status)")
}

func TestClientCancelEndsOperation(t *testing.T) {
	ts := startServer(t, 0)
	ts.sup.set(nil, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.client.Do(ctx, "restart", "nginx") }()
	<-ts.sup.entered
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return after cancel")
	}
	// The server saw the client leave: the fake's operation ended too, or
	// the next one could not start blocking and answer.
	ts.sup.set(nil, false)
	if err := ts.client.Do(context.Background(), "start", "nginx"); err != nil {
		t.Fatal(err)
	}
}

func TestCloseCancelsOperationsInFlight(t *testing.T) {
	ts := startServer(t, 0)
	ts.sup.set(nil, true)
	done := make(chan error, 1)
	go func() { done <- ts.client.Do(context.Background(), "start", "nginx") }()
	<-ts.sup.entered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	wantAPIError(t, <-done, 503, KindOperationFailed, "cancelled: phpinit is shutting down or the client left")
	if _, err := net.Dial("unix", ts.socket); err == nil {
		t.Error("socket still answers after Close")
	}
}

func TestBadRequests(t *testing.T) {
	ts := startServer(t, 0)
	big := strings.Repeat("x", 1<<20)
	tests := []struct {
		name, method, path, body string
		chunked                  bool
		status                   int
		msg                      string
	}{
		{"wrong method status", "POST", "/v1/status", "", false, 405, "method POST not allowed on /v1/status: use GET"},
		{"wrong method reload", "GET", "/v1/reload", "", false, 405, "method GET not allowed on /v1/reload: use POST"},
		{"wrong method program", "DELETE", "/v1/programs/nginx/stop", "", false, 405, "method DELETE not allowed on /v1/programs/nginx/stop: use POST"},
		{"unknown path", "GET", "/v2/status", "", false, 404, "no such endpoint: GET /v2/status"},
		{"unknown verb", "POST", "/v1/programs/nginx/explode", "", false, 404, `unknown operation "explode": use start, stop, restart, reload or signal`},
		{"malformed json", "POST", "/v1/programs/nginx/signal", `{"signal":`, false, 400, `malformed body: want {"signal":"HUP"}: unexpected EOF`},
		{"unknown field", "POST", "/v1/programs/nginx/signal", `{"sig":"HUP"}`, false, 400, `malformed body: want {"signal":"HUP"}: json: unknown field "sig"`},
		{"bad signal", "POST", "/v1/programs/nginx/signal", `{"signal":"NOPE"}`, false, 400, `unknown signal "NOPE"`},
		{"huge body", "POST", "/v1/programs/nginx/signal", big, false, 413, tooLarge},
		{"huge chunked signal", "POST", "/v1/programs/nginx/signal", `{"signal":"` + big + `"}`, true, 413, tooLarge},
		{"huge chunked start", "POST", "/v1/programs/nginx/start", big, true, 413, tooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				// Hiding the length makes net/http send it chunked.
				body = io.MultiReader(body)
			}
			status, e := rawRequest(t, ts.socket, tt.method, tt.path, body)
			if status != tt.status || e.Message != tt.msg || e.Kind != KindBadRequest {
				t.Errorf("= %d %q %q, want %d %q bad_request", status, e.Kind, e.Message, tt.status, tt.msg)
			}
		})
	}
	if calls := ts.sup.Calls(); len(calls) != 0 {
		t.Errorf("bad requests reached the supervisor: %q", calls)
	}
}

func TestHugeHeaderRefused(t *testing.T) {
	ts := startServer(t, 0)
	c := dialRaw(t, ts.socket)
	_, _ = io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status = %d, want 431", resp.StatusCode)
	}
	stillServes(t, ts)
}

func TestGarbageDoesNotHurtTheServer(t *testing.T) {
	ts := startServer(t, 0)
	for _, junk := range []string{
		"\x00\x01\x02\xff\xfe garbage\r\n\r\n",
		"GET /v1/status HTTP/9.9\r\n\r\n",
		"POST /v1/programs/nginx/start HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
		strings.Repeat("\xff", 100<<10),
	} {
		c := dialRaw(t, ts.socket)
		_, _ = io.WriteString(c, junk)
		// net/http answers 400 and closes, or just closes: either way the
		// connection ends and nothing reaches the supervisor.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		reply, err := io.ReadAll(c)
		if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
			t.Errorf("%q: read: %v", junk[:min(len(junk), 20)], err)
		}
		if len(reply) > 0 && !strings.HasPrefix(string(reply), "HTTP/1.1 4") && !strings.HasPrefix(string(reply), "HTTP/1.1 505") {
			t.Errorf("%q: reply %q, want an error status or nothing", junk[:min(len(junk), 20)], reply)
		}
		_ = c.Close()
	}
	// A client that connects and says nothing does not block the others.
	idle := dialRaw(t, ts.socket)
	defer func() { _ = idle.Close() }()
	stillServes(t, ts)
	if calls := ts.sup.Calls(); len(calls) != 0 {
		t.Errorf("garbage reached the supervisor: %q", calls)
	}
}

func TestNonUnixPeerIsRefused(t *testing.T) {
	// Credentials cannot be read from a TCP peer: refuse, whoever it is.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	log := &syncBuffer{}
	srv := Serve(l, newFake(), slogTo(log))
	defer func() { _ = srv.Close(context.Background()) }()
	resp, err := http.Post("http://"+l.Addr().String()+"/v1/programs/nginx/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var e Error
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 403 || e.Kind != KindForbidden {
		t.Errorf("= %d %+v, want 403 forbidden", resp.StatusCode, e)
	}
	if !strings.Contains(log.String(), "control request refused") {
		t.Errorf("refusal not logged:\n%s", log)
	}
}

func TestPeerAllowed(t *testing.T) {
	for _, tt := range []struct {
		p    peer
		euid int
		want bool
	}{
		{peer{uid: 0}, 1000, true},
		{peer{uid: 1000}, 1000, true},
		{peer{uid: 0}, 0, true},
		{peer{uid: 65534}, 0, false},
		{peer{uid: 65534}, 1000, false},
		{peer{uid: 0, err: errors.New("x")}, 0, false},
		{peer{uid: -1}, -1, false},
	} {
		if got := tt.p.allowed(tt.euid); got != tt.want {
			t.Errorf("%+v.allowed(%d) = %v, want %v", tt.p, tt.euid, got, tt.want)
		}
	}
}

func wantAPIError(t *testing.T, err error, status int, kind Kind, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error", err, err)
	}
	if e.Status != status || e.Kind != kind || e.Message != msg {
		t.Errorf("error = %d %s %q, want %d %s %q", e.Status, e.Kind, e.Message, status, kind, msg)
	}
}

// rawRequest sends one request without the Client's checks.
func rawRequest(t *testing.T, socket, method, path string, body io.Reader) (int, Error) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://phpinit"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var e Error
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return resp.StatusCode, e
}

func dialRaw(t *testing.T, socket string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func stillServes(t *testing.T, ts *testServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ts.client.Status(ctx); err != nil {
		t.Fatalf("server no longer answers: %v", err)
	}
}
