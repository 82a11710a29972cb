package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"

	"github.com/phpinit/phpinit/supervisor"
)

// maxResponseBytes bounds what the client reads: a status of hundreds of
// programs is well under it.
const maxResponseBytes = 8 << 20

// UnreachableError is a failure to connect to the socket: phpinit is not
// running, or not serving there, or the caller may not open the socket.
type UnreachableError struct {
	Socket string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach phpinit at %s: %s", e.Socket, dialReason(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func dialReason(err error) string {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return "no such file (is phpinit running?)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is phpinit running?)"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied (run as root or as phpinit's user)"
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

// Client calls phpinit's control API. Every call is bounded by its ctx
// only; the server bounds operations by OpTimeout.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the socket at path.
func NewClient(socket string) *Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", socket)
		if err != nil {
			return nil, &UnreachableError{Socket: socket, Err: err}
		}
		return c, nil
	}
	return &Client{
		socket: socket,
		http: &http.Client{Transport: &http.Transport{
			DialContext:        dial,
			DisableCompression: true,
			MaxIdleConns:       1,
		}},
	}
}

// Socket is the path the client connects to.
func (c *Client) Socket() string { return c.socket }

// Status returns the supervisor's current snapshot.
func (c *Client) Status(ctx context.Context) (*supervisor.Snapshot, error) {
	var sn supervisor.Snapshot
	if err := c.call(ctx, http.MethodGet, "/v1/status", nil, &sn); err != nil {
		return nil, err
	}
	return &sn, nil
}

// Do runs verb (start, stop, restart or reload) on the program name, or
// "all", and returns once it is done.
func (c *Client) Do(ctx context.Context, verb, name string) error {
	if !isVerb(verb) {
		return fmt.Errorf("unknown operation %q: use start, stop, restart or reload", verb)
	}
	return c.call(ctx, http.MethodPost, programPath(name, verb), nil, nil)
}

// Reload checks and reloads the program name; "" or "all" reloads every
// program that has a reload signal. A failed check's output is the error.
func (c *Client) Reload(ctx context.Context, name string) error {
	if name == "" || name == "all" {
		return c.call(ctx, http.MethodPost, "/v1/reload", nil, nil)
	}
	return c.Do(ctx, "reload", name)
}

// Signal sends sig (a name such as HUP or SIGHUP, or a number) to the
// program name's main process, or every program's for "all".
func (c *Client) Signal(ctx context.Context, sig, name string) error {
	return c.call(ctx, http.MethodPost, programPath(name, "signal"), &SignalRequest{Signal: sig}, nil)
}

func programPath(name, verb string) string {
	return "/v1/programs/" + url.PathEscape(name) + "/" + verb
}

// call sends one request and decodes the answer into out (when not nil).
// Errors are *UnreachableError, *Error, or a failure after connecting.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	// The host is a placeholder: the transport dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://phpinit"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *UnreachableError
		if errors.As(err, &ue) {
			return ue
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("no answer from phpinit at %s: %w", c.socket, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("cannot read phpinit's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e = &Error{Message: "phpinit answered " + resp.Status}
		}
		e.Status = resp.StatusCode
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("cannot decode phpinit's answer: %w", err)
	}
	return nil
}
