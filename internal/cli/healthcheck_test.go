package cli

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runHealthcheck(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Run(append([]string{"healthcheck"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// readyzServer answers /readyz with code and body, and records the paths
// asked for.
func readyzServer(t *testing.T, code int, body string) (*httptest.Server, *[]string) {
	t.Helper()
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &paths
}

func TestHealthcheckReady(t *testing.T) {
	srv, paths := readyzServer(t, 200, `{"status":"ok","programs":[]}`)
	code, stdout, stderr := runHealthcheck("--url", srv.URL+"/readyz")
	if code != 0 || stdout != "ready\n" || stderr != "" {
		t.Errorf("= %d %q %q", code, stdout, stderr)
	}
	// A URL without a path asks /readyz.
	if code, _, _ := runHealthcheck("--url", srv.URL); code != 0 || (*paths)[1] != "/readyz" {
		t.Errorf("= %d, paths %q", code, *paths)
	}
}

func TestHealthcheckNotReady(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int
		body string
		want string
	}{
		{"reason", 503, `{"status":"unavailable","reason":"nginx STARTING","programs":[{"name":"nginx","state":"STARTING","ready":false}]}`,
			"not ready: nginx STARTING\n"},
		{"draining", 503, `{"status":"unavailable","reason":"draining","programs":[]}`, "not ready: draining\n"},
		{"not json", 502, "bad gateway", "not ready: URL answered 502 Bad Gateway\n"},
		{"404", 404, "", "not ready: URL answered 404 Not Found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := readyzServer(t, tc.code, tc.body)
			code, stdout, _ := runHealthcheck("--url", srv.URL+"/readyz")
			want := strings.ReplaceAll(tc.want, "URL", srv.URL+"/readyz")
			if code != 1 || stdout != want {
				t.Errorf("= %d %q, want 1 %q", code, stdout, want)
			}
		})
	}
}

func TestHealthcheckUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "http://" + addr + "/readyz"
	code, stdout, _ := runHealthcheck("--url", url)
	if want := "cannot reach " + url + ": connection refused\n"; code != 1 || stdout != want {
		t.Errorf("= %d %q, want 1 %q", code, stdout, want)
	}
}

func TestHealthcheckTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	start := time.Now()
	code, stdout, _ := runHealthcheck("--url", srv.URL+"/readyz", "--timeout", "200ms")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with --timeout 200ms", d)
	}
	if want := "cannot reach " + srv.URL + "/readyz: timed out after 200ms\n"; code != 1 || stdout != want {
		t.Errorf("= %d %q, want 1 %q", code, stdout, want)
	}
}

// Without --url the listener comes from the config, reached on loopback.
func TestHealthcheckFromConfig(t *testing.T) {
	srv, _ := readyzServer(t, 200, `{"status":"ok","programs":[]}`)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	dir := t.TempDir()
	write := func(listen string) string {
		cfg := filepath.Join(dir, "phpinit.yaml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, "http:\n  listen: %q\n", listen), 0o600); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	for _, listen := range []string{"0.0.0.0:" + port, ":" + port, "127.0.0.1:" + port} {
		if code, stdout, stderr := runHealthcheck("--config", write(listen)); code != 0 || stdout != "ready\n" {
			t.Errorf("listen %q: = %d %q %q", listen, code, stdout, stderr)
		}
	}
	t.Setenv("PHPINIT_CONFIG", write("0.0.0.0:"+port))
	if code, stdout, _ := runHealthcheck(); code != 0 {
		t.Errorf("$PHPINIT_CONFIG: = %d %q", code, stdout)
	}
	code, stdout, _ := runHealthcheck("--config", write(""))
	if code != 1 || !strings.HasPrefix(stdout, "http listener disabled") {
		t.Errorf("listen \"\": = %d %q", code, stdout)
	}
	code, stdout, _ = runHealthcheck("--config", filepath.Join(dir, "missing.yaml"))
	if code != 1 || !strings.HasPrefix(stdout, "invalid config") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("missing --config: = %d %q", code, stdout)
	}
}

func TestReadyzURL(t *testing.T) {
	for listen, want := range map[string]string{
		":9180":          "http://127.0.0.1:9180/readyz",
		"0.0.0.0:9180":   "http://127.0.0.1:9180/readyz",
		"[::]:9180":      "http://[::1]:9180/readyz",
		"10.1.2.3:80":    "http://10.1.2.3:80/readyz",
		"[fe80::1]:9180": "http://[fe80::1]:9180/readyz",
		"localhost:1":    "http://localhost:1/readyz",
	} {
		if got, err := readyzURL(listen); err != nil || got != want {
			t.Errorf("readyzURL(%q) = %q %v, want %q", listen, got, err, want)
		}
	}
	if _, err := readyzURL("9180"); err == nil {
		t.Error("readyzURL(9180): no error")
	}
}
