// Package fastcgi is a small FastCGI client (Go's standard library has only
// the server side), enough to ask php-fpm for its ping and status pages.
//
// Every request opens its own connection, sends one responder request with
// keep-alive off and reads until END_REQUEST. Nothing outlives a call to Do:
// no pool, no goroutine.
package fastcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultTimeout bounds a request whose context has no deadline.
const DefaultTimeout = 2 * time.Second

// MaxResponseSize caps STDOUT and STDERR together; a larger response is an
// error (ErrResponseTooLarge).
const MaxResponseSize = 4 << 20

// Response is the CGI response a FastCGI responder wrote to STDOUT, plus
// what it wrote to STDERR.
type Response struct {
	// Status is from the "Status:" header; 302 without one when Location is
	// set (RFC 3875 6.3.3), else 200.
	Status int
	// Header holds the CGI headers, canonicalised, without Status.
	Header http.Header
	// Body is STDOUT after the blank line that ends the headers.
	Body []byte
	// Stderr is everything written to STDERR (php-fpm: "Primary script unknown").
	Stderr []byte
	// AppStatus is the application's exit status from END_REQUEST.
	AppStatus uint32
}

// Do sends one request to the FastCGI server at address ("unix:///abs/path"
// or "tcp://host:port") and returns its response.
//
// params is the CGI environment; keep it small (see PingParams). stdin is
// sent as the request body; set CONTENT_LENGTH yourself when it is not
// empty. The whole exchange, dial included, ends by ctx's deadline, or
// DefaultTimeout from now when ctx has none.
func Do(ctx context.Context, address string, params map[string]string, stdin []byte) (*Response, error) {
	network, addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	req, err := encodeRequest(params, stdin)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", address, contextErr(ctx, err))
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("cannot set deadline on %s: %w", address, err)
	}
	// A deadline covers expiry; this covers cancellation. The deadline in the
	// past makes blocked reads and writes return at once (net.Conn docs).
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("cannot send fastcgi request to %s: %w", address, contextErr(ctx, err))
	}
	resp, err := readResponse(conn, MaxResponseSize)
	if err != nil {
		return nil, fmt.Errorf("cannot read fastcgi response from %s: %w", address, contextErr(ctx, err))
	}
	return resp, nil
}

// DoConn sends one request over conn, a connection the caller dialled and
// bounds with deadlines, and returns the response; the caller closes conn.
// (phpinit's probes dial with raw system calls: see internal/probe.)
func DoConn(conn io.ReadWriter, params map[string]string, stdin []byte) (*Response, error) {
	req, err := encodeRequest(params, stdin)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("cannot send fastcgi request: %w", err)
	}
	resp, err := readResponse(conn, MaxResponseSize)
	if err != nil {
		return nil, fmt.Errorf("cannot read fastcgi response: %w", err)
	}
	return resp, nil
}

// contextErr reports a timeout as the context's error, so that callers can
// test errors.Is(err, context.DeadlineExceeded). The conn deadline and the
// context's timer are separate clocks: either may fire first.
func contextErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// ParseAddress splits "unix:///abs/path" or "tcp://host:port" into the
// network and address net.Dial takes.
func ParseAddress(address string) (network, addr string, err error) {
	if path, ok := strings.CutPrefix(address, "unix://"); ok {
		if !filepath.IsAbs(path) {
			return "", "", fmt.Errorf("invalid fastcgi address %q: want unix:///absolute/path", address)
		}
		return "unix", path, nil
	}
	if hostport, ok := strings.CutPrefix(address, "tcp://"); ok {
		if _, port, err := net.SplitHostPort(hostport); err != nil || port == "" {
			return "", "", fmt.Errorf("invalid fastcgi address %q: want tcp://host:port", address)
		}
		return "tcp", hostport, nil
	}
	return "", "", fmt.Errorf("invalid fastcgi address %q: want unix:///path or tcp://host:port", address)
}

// PingParams is the smallest environment php-fpm answers a ping.path or
// pm.status_path request with; it drops a connection whose environment is
// large (FIELD-NOTES), so nothing else is sent. Measured with php-fpm 8.2:
// without SCRIPT_NAME or SCRIPT_FILENAME it answers 404 "Primary script
// unknown"; without REQUEST_METHOD it answers 200 with an empty body instead
// of ping.response.
func PingParams(path string) map[string]string {
	return map[string]string{
		"SCRIPT_NAME":     path,
		"SCRIPT_FILENAME": path,
		"REQUEST_METHOD":  "GET",
		"QUERY_STRING":    "",
		"SERVER_PROTOCOL": "HTTP/1.1",
	}
}

// StatusParams is PingParams with a query string, e.g. "json" or "json&full"
// for pm.status_path.
func StatusParams(path, query string) map[string]string {
	p := PingParams(path)
	p["QUERY_STRING"] = query
	return p
}
