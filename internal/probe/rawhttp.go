package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
)

// rawHTTP is an http:// probe of an IP address: one GET written by hand on
// a rawConn and parsed with http.ReadResponse, with no transport (no
// goroutines, no connection pool). Like the transport path it sends
// Connection: close and follows no redirect.
type rawHTTP struct {
	address string // ip:port
	req     *http.Request
	wire    []byte
}

// newRawHTTP is nil when u is not http:// to an IP literal.
func newRawHTTP(u *url.URL) *rawHTTP {
	if u.Scheme != "http" {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	address := net.JoinHostPort(u.Hostname(), port)
	if _, err := netip.ParseAddrPort(address); err != nil {
		return nil
	}
	req := &http.Request{Method: http.MethodGet, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: u.Host}
	wire := fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: phpinit-probe\r\nConnection: close\r\n\r\n", u.RequestURI(), u.Host)
	return &rawHTTP{address: address, req: req, wire: wire}
}

func (h *httpProber) probeRaw(ctx context.Context) error {
	conn, done, err := dialProbe(ctx, "tcp", h.raw.address)
	if err != nil {
		return fmt.Errorf("http %s: %w", h.url, probeTimeoutError(ctx, h.timeout, err))
	}
	defer done()
	if _, err := conn.Write(h.raw.wire); err != nil {
		return fmt.Errorf("http %s: %w", h.url, probeTimeoutError(ctx, h.timeout, err))
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), h.raw.req)
	if err != nil {
		return fmt.Errorf("http %s: %w", h.url, probeTimeoutError(ctx, h.timeout, err))
	}
	return h.judge(resp)
}
