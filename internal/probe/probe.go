// Package probe runs the probes (fastcgi, http, tcp, exec) that decide a
// program's readiness and liveness. Each prober applies its Spec's Timeout
// itself, once; a caller's earlier deadline also ends it.
package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/phpinit/phpinit/internal/fastcgi"
	"github.com/phpinit/phpinit/internal/proc"
)

const (
	// defaultProbeTimeout applies when a probe's Timeout is zero; it matches
	// the config default.
	defaultProbeTimeout = time.Second
	// probeBodyLimit is how much of an HTTP body (or exec output) is read
	// to say why a probe failed.
	probeBodyLimit = 4 << 10
	// probeReasonLimit bounds the excerpt quoted in a probe error.
	probeReasonLimit = 120
)

// Prober runs one probe. A nil error passes; an error says briefly why not.
// A probe ends by its configured Timeout, or by ctx's deadline when that
// comes first.
type Prober interface {
	Probe(ctx context.Context) error
}

// Spec is one probe: exactly one of FastCGI, HTTP, TCP and Exec is set.
type Spec struct {
	// FastCGI is unix:///abs/path or tcp://host:port of a php-fpm pool.
	FastCGI string
	// Path is the FastCGI SCRIPT_NAME to ask for (ping.path); "" is /ping.
	Path string
	// HTTP is a URL fetched with GET.
	HTTP string
	// ExpectStatus is the HTTP status that passes; 0 is 200.
	ExpectStatus int
	// TCP is host:port that must accept a connection.
	TCP string
	// Exec is argv run as Credential with Env; exit 0 passes.
	Exec []string
	// Timeout bounds one probe; 0 is 1s.
	Timeout time.Duration

	// Env is the environment of an exec probe (its PATH is searched).
	Env []string
	// Credential is the user of an exec probe; nil keeps phpinit's.
	Credential *syscall.Credential
	// Privileges of an exec probe: its program's.
	Privileges proc.Privileges
	// Forker starts exec probes. Under phpinit's supervisor it must be the
	// supervisor (see proc.Forker); nil is proc.SelfWait, for where no
	// wait4(-1) reaper runs.
	Forker proc.Forker
}

// New builds the prober p describes.
func New(p Spec) (Prober, error) {
	if p.Forker == nil {
		p.Forker = proc.SelfWait
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	forms := 0
	for _, set := range []bool{p.FastCGI != "", p.HTTP != "", p.TCP != "", len(p.Exec) > 0} {
		if set {
			forms++
		}
	}
	if forms != 1 {
		return nil, fmt.Errorf("cannot build probe: want exactly one of fastcgi, http, tcp, exec; got %d", forms)
	}
	switch {
	case p.FastCGI != "":
		return newFastCGIProber(p, timeout)
	case p.HTTP != "":
		return newHTTPProber(p, timeout)
	case p.TCP != "":
		return newTCPProber(p, timeout)
	default:
		return newExecProber(p, timeout)
	}
}

// probeTimeoutError says "timed out after 1s" rather than the opaque "context
// deadline exceeded" or "i/o timeout", with context.DeadlineExceeded in the
// chain. The dialer's and conn's deadlines come from ctx but run on their own
// clock, so an i/o timeout may arrive just before ctx expires.
func probeTimeoutError(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("timed out after %v: %w", timeout, context.DeadlineExceeded)
	}
	return err
}

// probeReason is a short excerpt of b for an error message: its first
// non-empty line, truncated.
func probeReason(b []byte) string {
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) > probeReasonLimit {
			line = strings.ToValidUTF8(line[:probeReasonLimit], "") + "..."
		}
		return line
	}
	return ""
}

// probeFailure is msg, followed by the excerpt of output that says why.
func probeFailure(msg string, output []byte) error {
	if r := probeReason(output); r != "" {
		return errors.New(msg + ": " + r)
	}
	return errors.New(msg)
}

// fastcgiProber asks php-fpm for its ping.path. php-fpm answers 200 with
// ping.response ("pong"); an unknown path gets 404 "Primary script unknown".
type fastcgiProber struct {
	address, path string
	timeout       time.Duration
}

func newFastCGIProber(p Spec, timeout time.Duration) (*fastcgiProber, error) {
	if _, _, err := fastcgi.ParseAddress(p.FastCGI); err != nil {
		return nil, fmt.Errorf("cannot build probe: %w", err)
	}
	path := p.Path
	if path == "" {
		path = "/ping"
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("cannot build probe: fastcgi path %q must start with /", path)
	}
	return &fastcgiProber{address: p.FastCGI, path: path, timeout: timeout}, nil
}

func (f *fastcgiProber) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	network, addr, err := fastcgi.ParseAddress(f.address)
	if err != nil {
		return fmt.Errorf("fastcgi %s %s: %w", f.address, f.path, err)
	}
	conn, done, err := dialProbe(ctx, network, addr)
	if err != nil {
		return fmt.Errorf("fastcgi %s %s: cannot connect to %s: %w", f.address, f.path, f.address, probeTimeoutError(ctx, f.timeout, err))
	}
	defer done()
	resp, err := fastcgi.DoConn(conn, fastcgi.PingParams(f.path), nil)
	if err != nil {
		return fmt.Errorf("fastcgi %s %s: %w", f.address, f.path, probeTimeoutError(ctx, f.timeout, err))
	}
	if resp.Status != http.StatusOK {
		why := resp.Stderr
		if len(why) == 0 {
			why = resp.Body
		}
		return probeFailure(fmt.Sprintf("fastcgi %s %s: status %d", f.address, f.path, resp.Status), why)
	}
	return nil
}

// httpProber GETs a URL. Like the kubelet's probes it follows no redirect,
// keeps no connection alive, uses no proxy and does not verify TLS
// certificates: it asks whether the server answers, not who it is.
type httpProber struct {
	url     string
	expect  int
	timeout time.Duration
	client  *http.Client
	// raw is set for http:// to an IP address: probed over a rawConn with
	// a hand-written request (see rawConn: net/http's transport makes a
	// dozen system calls and three goroutines per request).
	raw *rawHTTP
}

func newHTTPProber(p Spec, timeout time.Duration) (*httpProber, error) {
	u, err := url.Parse(p.HTTP)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cannot build probe: invalid http url %q", p.HTTP)
	}
	expect := p.ExpectStatus
	if expect == 0 {
		expect = http.StatusOK
	}
	transport := &http.Transport{
		Proxy:             nil,
		DialContext:       (&net.Dialer{}).DialContext,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	}
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &httpProber{url: p.HTTP, expect: expect, timeout: timeout, client: client, raw: newRawHTTP(u)}, nil
}

func (h *httpProber) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	if h.raw != nil {
		return h.probeRaw(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return fmt.Errorf("http %s: %w", h.url, err)
	}
	req.Header.Set("User-Agent", "phpinit-probe")
	resp, err := h.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // it repeats the method and URL
		}
		return fmt.Errorf("http %s: %w", h.url, probeTimeoutError(ctx, h.timeout, err))
	}
	return h.judge(resp)
}

// judge passes a response with the expected status, and closes its body;
// any other status fails with the start of the body.
func (h *httpProber) judge(resp *http.Response) error {
	defer resp.Body.Close()
	if resp.StatusCode == h.expect {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, probeBodyLimit))
	return probeFailure(fmt.Sprintf("http %s: status %d, want %d", h.url, resp.StatusCode, h.expect), body)
}

// tcpProber passes when host:port accepts a connection.
type tcpProber struct {
	address string
	timeout time.Duration
}

func newTCPProber(p Spec, timeout time.Duration) (*tcpProber, error) {
	if _, port, err := net.SplitHostPort(p.TCP); err != nil || port == "" {
		return nil, fmt.Errorf("cannot build probe: invalid tcp address %q: want host:port", p.TCP)
	}
	return &tcpProber{address: p.TCP, timeout: timeout}, nil
}

func (t *tcpProber) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	_, done, err := dialProbe(ctx, "tcp", t.address)
	if err != nil {
		var oerr *net.OpError
		if errors.As(err, &oerr) {
			err = oerr.Err // it repeats "dial tcp" and the address
		}
		return fmt.Errorf("tcp %s: %w", t.address, probeTimeoutError(ctx, t.timeout, err))
	}
	done()
	return nil
}
