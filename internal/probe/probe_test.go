package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/proc"
)

// mustProber builds a prober or fails the test.
func mustProber(t *testing.T, p *Spec, f proc.Forker) Prober {
	t.Helper()
	pr, err := newProber(p, os.Environ(), nil, f)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// probeWithin runs one probe and fails the test if it takes longer than max.
func probeWithin(t *testing.T, pr Prober, maxDur time.Duration) error {
	t.Helper()
	start := time.Now()
	err := pr.Probe(t.Context())
	if d := time.Since(start); d > maxDur {
		t.Errorf("probe took %v, want under %v", d, maxDur)
	}
	return err
}

func probeWantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
}

// probeWantResult wants a pass when want is "", else an error of at most
// 300 bytes (it goes into logs and ctl status) containing want.
func probeWantResult(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("err = %v, want pass", err)
		}
		return
	}
	probeWantErr(t, err, want)
	if err != nil && len(err.Error()) > 300 {
		t.Errorf("error too long: %d bytes", len(err.Error()))
	}
}

func TestNewProberRejects(t *testing.T) {
	tests := []struct {
		name  string
		probe *Spec
		want  string
	}{
		{"empty", &Spec{}, "got 0"},
		{"two forms", &Spec{TCP: "127.0.0.1:80", HTTP: "http://x/"}, "got 2"},
		{"fastcgi address", &Spec{FastCGI: "/run/php.sock"}, "invalid fastcgi address"},
		{"fastcgi path", &Spec{FastCGI: "unix:///run/php.sock", Path: "ping"}, "must start with /"},
		{"http scheme", &Spec{HTTP: "ftp://x/"}, "invalid http url"},
		{"http host", &Spec{HTTP: "http:///x"}, "invalid http url"},
		{"tcp", &Spec{TCP: "localhost"}, "invalid tcp address"},
		{"exec", &Spec{Exec: []string{""}}, "exec command is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newProber(tt.probe, nil, nil, nil)
			probeWantErr(t, err, tt.want)
		})
	}
}

func TestHTTPProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "phpinit-probe" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "\n  database down\nsecond line")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("x", 1024))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tlsSrv := httptest.NewTLSServer(mux)
	t.Cleanup(tlsSrv.Close)

	tests := []struct {
		name   string
		url    string
		expect int
		want   string // "" passes
	}{
		{"ok", srv.URL + "/ok", 0, ""},
		{"https self-signed", tlsSrv.URL + "/ok", 0, ""},
		{"status with reason", srv.URL + "/down", 0, "status 503, want 200: database down"},
		{"expect 204", srv.URL + "/nocontent", 204, ""},
		{"wrong expected", srv.URL + "/ok", 204, "status 200, want 204"},
		{"redirect not followed", srv.URL + "/redirect", 0, "status 302, want 200"},
		{"redirect expected", srv.URL + "/redirect", 302, ""},
		{"endless body", srv.URL + "/endless", 0, "status 500, want 200: xxx"},
		{"slow", srv.URL + "/slow", 0, "timed out after 200ms"},
		{"refused", "http://" + probeClosedPort(t), 0, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := mustProber(t, &Spec{HTTP: tt.url, ExpectStatus: tt.expect, Timeout: 200 * time.Millisecond}, nil)
			err := probeWithin(t, pr, time.Second)
			probeWantResult(t, err, tt.want)
		})
	}
}

// closedPort is a local address nobody listens on.
func probeClosedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := mustProber(t, &Spec{TCP: ln.Addr().String()}, nil).Probe(t.Context()); err != nil {
		t.Errorf("listening port: %v", err)
	}
	err = mustProber(t, &Spec{TCP: probeClosedPort(t)}, nil).Probe(t.Context())
	probeWantErr(t, err, "connection refused")
}

// TestTCPProbeTimeout dials a listener whose accept queue is full: Linux
// drops further SYNs, so connect hangs until the probe's timeout.
func TestTCPProbeTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 4 { // fill the accept queue
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	pr := mustProber(t, &Spec{TCP: addr, Timeout: 200 * time.Millisecond}, nil)
	start := time.Now()
	err = pr.Probe(t.Context())
	if err == nil {
		t.Skip("skipping: this kernel accepted a connection beyond the backlog")
	}
	probeWantErr(t, err, "timed out after 200ms")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded in its chain", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("took %v, want about 200ms", d)
	}
}

// fakeFPM answers every FastCGI request with stdout and stderr, or, when
// stall is set, not at all until the client hangs up.
func probeFakeFPM(t *testing.T, stdout, stderr string, stall bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fpm.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if !probeReadFCGIRequest(c) || stall {
					io.Copy(io.Discard, c)
					return
				}
				var out []byte
				if stderr != "" {
					out = probeFCGIRecord(out, 7, stderr)
				}
				out = probeFCGIRecord(out, 6, stdout)
				out = probeFCGIRecord(out, 3, "\x00\x00\x00\x00\x00\x00\x00\x00")
				c.Write(out)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "unix://" + path
}

// readFCGIRequest reads records up to the empty STDIN that ends a request.
func probeReadFCGIRequest(r io.Reader) bool {
	for {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return false
		}
		n := int(binary.BigEndian.Uint16(h[4:])) + int(h[6])
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return false
		}
		if h[1] == 5 && n == 0 {
			return true
		}
	}
}

func probeFCGIRecord(b []byte, typ byte, content string) []byte {
	b = append(b, 1, typ, 0, 1, byte(len(content)>>8), byte(len(content)), 0, 0)
	return append(b, content...)
}

func TestFastCGIProbe(t *testing.T) {
	pong := probeFakeFPM(t, "Content-type: text/plain\r\n\r\npong", "", false)
	missing := probeFakeFPM(t, "Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.\n", "Primary script unknown", false)
	broken := probeFakeFPM(t, "Status: 500 Internal Server Error\r\n\r\nfatal error", "", false)
	stall := probeFakeFPM(t, "", "", true)

	tests := []struct {
		name, address, want string
	}{
		{"pong", pong, ""},
		{"404 says why from stderr", missing, "fastcgi " + missing + " /ping: status 404: Primary script unknown"},
		{"500 says why from body", broken, "status 500: fatal error"},
		{"stall", stall, "timed out after 200ms"},
		{"no socket", "unix://" + filepath.Join(t.TempDir(), "none.sock"), "cannot connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr := mustProber(t, &Spec{FastCGI: tt.address, Timeout: 200 * time.Millisecond}, nil)
			err := probeWithin(t, pr, time.Second)
			if tt.want == "" {
				if err != nil {
					t.Errorf("err = %v, want pass", err)
				}
				return
			}
			probeWantErr(t, err, tt.want)
		})
	}
}

// TestProbeTimeouts checks both bounds: the probe's own Timeout when the
// caller's deadline is later, and the caller's deadline when it is sooner.
func TestProbeTimeouts(t *testing.T) {
	stall := probeFakeFPM(t, "", "", true)
	tests := []struct {
		name            string
		timeout, caller time.Duration
	}{
		{"probe timeout first", 200 * time.Millisecond, 10 * time.Second},
		{"caller deadline first", 10 * time.Second, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []*Spec{
				{FastCGI: stall, Timeout: tt.timeout},
				{Exec: []string{"sleep", "30"}, Timeout: tt.timeout},
			} {
				ctx, cancel := context.WithTimeout(t.Context(), tt.caller)
				defer cancel()
				start := time.Now()
				err := mustProber(t, p, nil).Probe(ctx)
				if d := time.Since(start); err == nil || d < 150*time.Millisecond || d > 1500*time.Millisecond {
					t.Errorf("%+v: err %v after %v, want an error after about 200ms", p, err, d)
				}
			}
		})
	}
}

func TestProbeDefaultTimeout(t *testing.T) {
	pr := mustProber(t, &Spec{Exec: []string{"sleep", "30"}}, nil)
	start := time.Now()
	err := pr.Probe(t.Context())
	probeWantErr(t, err, "timed out after 1s")
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("took %v, want about 1s", d)
	}
}

func probeCheckNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// newProber is New with the exec fields set.
func newProber(p *Spec, env []string, cred *syscall.Credential, f proc.Forker) (Prober, error) {
	s := *p
	s.Env, s.Credential, s.Forker = env, cred, f
	return New(s)
}
