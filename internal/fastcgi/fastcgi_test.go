package fastcgi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkNoGoroutineLeak fails the test if, after its cleanups, more
// goroutines run than before it. Register it first: cleanups run last in,
// first out, so it runs after the fake server has shut down.
func checkNoGoroutineLeak(t *testing.T) {
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

// request is what the fake server decoded from the client.
type request struct {
	params map[string]string
	stdin  []byte
}

// fakeServer serves a unix socket in t.TempDir: for each connection it
// decodes the request, then lets answer write whatever it likes. It stops,
// and waits for its goroutines, in t.Cleanup.
func fakeServer(t *testing.T, answer func(c net.Conn, req *request)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fcgi.sock")
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
				req, err := decodeRequest(c)
				if err != nil {
					t.Errorf("fake server: %v", err)
					return
				}
				answer(c, req)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return "unix://" + path
}

// decodeRequest reads BEGIN_REQUEST, PARAMS and STDIN independently of the
// client's encoder.
func decodeRequest(r io.Reader) (*request, error) {
	req := &request{params: map[string]string{}}
	for stdinDone := false; !stdinDone; {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, err
		}
		body := make([]byte, int(binary.BigEndian.Uint16(h[4:]))+int(h[6]))
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, err
		}
		body = body[:binary.BigEndian.Uint16(h[4:])]
		switch h[1] {
		case typeBeginRequest:
			if role := binary.BigEndian.Uint16(body); role != roleResponder || body[2] != 0 {
				return nil, errors.New("bad begin request")
			}
		case typeParams:
			if err := decodePairs(body, req.params); err != nil {
				return nil, err
			}
		case typeStdin:
			req.stdin = append(req.stdin, body...)
			stdinDone = len(body) == 0
		}
	}
	return req, nil
}

func decodePairs(b []byte, into map[string]string) error {
	readLen := func() (int, bool) {
		if len(b) == 0 {
			return 0, false
		}
		if b[0] < 128 {
			n := int(b[0])
			b = b[1:]
			return n, true
		}
		if len(b) < 4 {
			return 0, false
		}
		n := int(binary.BigEndian.Uint32(b) &^ (1 << 31))
		b = b[4:]
		return n, true
	}
	for len(b) > 0 {
		nl, ok1 := readLen()
		vl, ok2 := readLen()
		if !ok1 || !ok2 || nl+vl > len(b) {
			return errors.New("pair split across records or truncated")
		}
		into[string(b[:nl])] = string(b[nl : nl+vl])
		b = b[nl+vl:]
	}
	return nil
}

func endRecord(appStatus uint32, protocolStatus byte) []byte {
	body := binary.BigEndian.AppendUint32(nil, appStatus)
	return appendRecord(nil, typeEndRequest, append(body, protocolStatus, 0, 0, 0))
}

func write(c net.Conn, chunks ...[]byte) {
	for _, b := range chunks {
		if _, err := c.Write(b); err != nil {
			return
		}
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestDoAgainstGoFCGIServer(t *testing.T) {
	checkNoGoroutineLeak(t)
	path := filepath.Join(t.TempDir(), "fcgi.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			env := fcgi.ProcessEnv(r)
			w.Header().Set("X-Script", env["SCRIPT_FILENAME"])
			w.Header().Set("X-Query", r.URL.RawQuery)
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "hello "+r.Method)
		}))
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})

	resp, err := Do(ctxTimeout(t, 2*time.Second), "unix://"+path, StatusParams("/status", "json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusTeapot || string(resp.Body) != "hello GET" {
		t.Errorf("got %d %q", resp.Status, resp.Body)
	}
	if got := resp.Header.Get("X-Script"); got != "/status" {
		t.Errorf("X-Script = %q", got)
	}
	if got := resp.Header.Get("X-Query"); got != "json" {
		t.Errorf("X-Query = %q", got)
	}
	if resp.Header.Get("Status") != "" {
		t.Error("Status left in Header")
	}
}

func TestDoSendsParamsAndStdin(t *testing.T) {
	checkNoGoroutineLeak(t)
	got := make(chan *request, 1)
	addr := fakeServer(t, func(c net.Conn, req *request) {
		got <- req
		write(c, appendRecord(nil, typeStdout, []byte("\r\n")), endRecord(0, 0))
	})
	params := map[string]string{
		"SHORT":                    "v",
		"EMPTY":                    "",
		strings.Repeat("N", 130):   "long name",
		"LONG_VALUE":               strings.Repeat("v", 300),
		"EXACTLY_127":              strings.Repeat("x", 127),
		"EXACTLY_128":              strings.Repeat("x", 128),
		"BIG_ONE_RECORD_BY_ITSELF": strings.Repeat("b", 60000),
	}
	for i := range 20 { // 20 × 1 KiB more: the pairs need several records
		params["P"+strings.Repeat("x", i)] = strings.Repeat("p", 1000)
	}
	stdin := bytes.Repeat([]byte("s"), 70000)
	resp, err := Do(ctxTimeout(t, 2*time.Second), addr, params, stdin)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || len(resp.Body) != 0 {
		t.Errorf("got %d %q", resp.Status, resp.Body)
	}
	req := <-got
	if len(req.params) != len(params) {
		t.Errorf("server got %d params, want %d", len(req.params), len(params))
	}
	for k, v := range params {
		if req.params[k] != v {
			t.Errorf("param %.20s: got %d bytes, want %d", k, len(req.params[k]), len(v))
		}
	}
	if !bytes.Equal(req.stdin, stdin) {
		t.Errorf("stdin: got %d bytes, want %d", len(req.stdin), len(stdin))
	}
}

func TestDoRejectsPairLargerThanRecord(t *testing.T) {
	_, err := Do(t.Context(), "unix:///nonexistent", map[string]string{"X": strings.Repeat("x", 70000)}, nil)
	if err == nil || !strings.Contains(err.Error(), "do not fit a record") {
		t.Fatalf("err = %v", err)
	}
}

func TestDoStdoutAndStderr(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := fakeServer(t, func(c net.Conn, req *request) {
		write(c,
			appendRecord(nil, typeStderr, []byte("Primary script ")),
			appendRecord(nil, typeStdout, []byte("Status: 404 Not Found\r\nContent-type: text/html\r\n")),
			appendRecord(nil, typeStderr, []byte("unknown")),
			appendRecord(nil, typeStdout, []byte("\r\nFile not found.\n")),
			endRecord(7, 0))
	})
	resp, err := Do(ctxTimeout(t, 2*time.Second), addr, PingParams("/nope"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 404 || string(resp.Body) != "File not found.\n" || string(resp.Stderr) != "Primary script unknown" {
		t.Errorf("got %d body %q stderr %q", resp.Status, resp.Body, resp.Stderr)
	}
	if resp.Header.Get("Content-Type") != "text/html" || resp.AppStatus != 7 {
		t.Errorf("got header %v app status %d", resp.Header, resp.AppStatus)
	}
}

func TestDoErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer func(c net.Conn)
		want   string
	}{
		{"garbage", func(c net.Conn) { write(c, []byte("HTTP/1.1 400 Bad Request\r\n\r\n")) }, "bad fastcgi record version 72"},
		{"close at once", func(c net.Conn) {}, "connection closed before end of fastcgi request"},
		{"close after stdout", func(c net.Conn) {
			write(c, appendRecord(nil, typeStdout, []byte("Status: 200\r\n\r\npong")))
		}, "connection closed before end of fastcgi request"},
		{"close inside record", func(c net.Conn) {
			write(c, appendRecord(nil, typeStdout, []byte("Status: 200\r\n\r\npong"))[:12])
		}, "connection closed inside a fastcgi record"},
		{"overloaded", func(c net.Conn) { write(c, endRecord(0, 2)) }, "rejected: overloaded"},
		{"other request id", func(c net.Conn) {
			write(c, []byte{1, typeStdout, 0, 2, 0, 0, 0, 0})
		}, "unexpected fastcgi request id 2"},
		{"management record", func(c net.Conn) {
			write(c, []byte{1, 11, 0, 0, 0, 8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})
		}, "unexpected fastcgi request id 0"},
		{"unknown record type", func(c net.Conn) {
			write(c, appendRecord(nil, 42, nil))
		}, "unexpected fastcgi record type 42"},
		{"no stdout", func(c net.Conn) { write(c, endRecord(0, 0)) }, "empty fastcgi response"},
		{"short end request", func(c net.Conn) { write(c, appendRecord(nil, typeEndRequest, []byte{0, 0})) }, "short fastcgi end request"},
		{"no end of headers", func(c net.Conn) {
			write(c, appendRecord(nil, typeStdout, []byte("pong")), endRecord(0, 0))
		}, "no end of headers"},
		{"too large", func(c net.Conn) {
			chunk := appendRecord(nil, typeStdout, make([]byte, maxContent))
			for range MaxResponseSize/maxContent + 2 {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
			write(c, endRecord(0, 0))
		}, "fastcgi response too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoGoroutineLeak(t)
			addr := fakeServer(t, func(c net.Conn, _ *request) { tt.answer(c) })
			start := time.Now()
			_, err := Do(ctxTimeout(t, 2*time.Second), addr, PingParams("/ping"), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v; want an error at once", d)
			}
		})
	}
}

func TestDoTooLargeIsErrResponseTooLarge(t *testing.T) {
	_, err := readResponse(bytes.NewReader(appendRecord(nil, typeStderr, make([]byte, 100))), 99)
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

// stall reads nothing more and answers nothing until the client hangs up.
func stall(c net.Conn, _ *request) { io.Copy(io.Discard, c) }

func TestDoStallHitsDeadline(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := fakeServer(t, stall)
	start := time.Now()
	_, err := Do(ctxTimeout(t, 200*time.Millisecond), addr, PingParams("/ping"), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("returned after %v, want about 200ms", d)
	}
}

func TestDoStallWithoutDeadlineUsesDefault(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := fakeServer(t, stall)
	start := time.Now()
	_, err := Do(context.Background(), addr, PingParams("/ping"), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d < DefaultTimeout-100*time.Millisecond || d > DefaultTimeout+time.Second {
		t.Errorf("returned after %v, want about %v", d, DefaultTimeout)
	}
}

func TestDoStallCancelled(t *testing.T) {
	checkNoGoroutineLeak(t)
	addr := fakeServer(t, stall)
	ctx, cancel := context.WithCancel(ctxTimeout(t, 5*time.Second))
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Do(ctx, addr, PingParams("/ping"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %v, want about 100ms", d)
	}
}

func TestDoTCP(t *testing.T) {
	checkNoGoroutineLeak(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := decodeRequest(c); err == nil {
			write(c, appendRecord(nil, typeStdout, []byte("Content-Type: text/plain\n\npong")), endRecord(0, 0))
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	resp, err := Do(ctxTimeout(t, 2*time.Second), "tcp://"+ln.Addr().String(), PingParams("/ping"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || string(resp.Body) != "pong" {
		t.Errorf("got %d %q", resp.Status, resp.Body)
	}
}

func TestDoConnectErrors(t *testing.T) {
	checkNoGoroutineLeak(t)
	_, err := Do(t.Context(), "unix://"+filepath.Join(t.TempDir(), "missing.sock"), PingParams("/ping"), nil)
	if err == nil || !strings.Contains(err.Error(), "cannot connect") {
		t.Errorf("err = %v", err)
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct{ in, network, addr string }{
		{"unix:///run/php/fpm.sock", "unix", "/run/php/fpm.sock"},
		{"tcp://127.0.0.1:9000", "tcp", "127.0.0.1:9000"},
		{"tcp://[::1]:9000", "tcp", "[::1]:9000"},
		{"tcp://localhost:9000", "tcp", "localhost:9000"},
		{"unix://run/php.sock", "", ""},
		{"tcp://127.0.0.1", "", ""},
		{"tcp://127.0.0.1:", "", ""},
		{"/run/php.sock", "", ""},
		{"127.0.0.1:9000", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		network, addr, err := ParseAddress(tt.in)
		if network != tt.network || addr != tt.addr || (err == nil) != (tt.network != "") {
			t.Errorf("ParseAddress(%q) = %q, %q, %v", tt.in, network, addr, err)
		}
	}
}
