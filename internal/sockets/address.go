package sockets

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// maxUnixPath is the longest path bind(2) takes: sun_path is 108 bytes on
// Linux, with room for the terminating NUL.
const maxUnixPath = 107

// Address is one parsed listen address.
type Address struct {
	// Network is "tcp" or "unix".
	Network string
	// Addr is host:port for tcp (the host as written, maybe a name) and
	// the absolute, clean path for unix.
	Addr string
}

// String gives the address back in the form ParseAddress reads.
func (a Address) String() string {
	if a.Network == "unix" {
		return "unix://" + a.Addr
	}
	return "tcp://" + a.Addr
}

// ParseAddress reads "tcp://host:port" or "unix:///absolute/path". A tcp
// host must be present (an IP literal, [v6] or a name); "[::]" or
// "0.0.0.0" listens on every address. Port 0 (a free port) is accepted:
// the tests use it.
func ParseAddress(s string) (Address, error) {
	switch {
	case strings.HasPrefix(s, "unix://"):
		p := strings.TrimPrefix(s, "unix://")
		if !filepath.IsAbs(p) {
			return Address{}, fmt.Errorf("unix socket path %q is not absolute (want unix:///path)", p)
		}
		if filepath.Clean(p) != p {
			// php-fpm matches inherited unix sockets by the exact
			// string of its pool's listen: "/run//x.sock" would not
			// match "/run/x.sock".
			return Address{}, fmt.Errorf("unix socket path %q is not clean (want %q)", p, filepath.Clean(p))
		}
		if len(p) > maxUnixPath {
			return Address{}, fmt.Errorf("unix socket path %q is longer than %d bytes", p, maxUnixPath)
		}
		return Address{Network: "unix", Addr: p}, nil
	case strings.HasPrefix(s, "tcp://"):
		hp := strings.TrimPrefix(s, "tcp://")
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return Address{}, fmt.Errorf("tcp address %q is not host:port: %w", hp, err)
		}
		if host == "" {
			return Address{}, fmt.Errorf("tcp address %q has no host (use 0.0.0.0 or [::] for every address)", hp)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return Address{}, fmt.Errorf("tcp address %q has no valid port", hp)
		}
		return Address{Network: "tcp", Addr: hp}, nil
	}
	return Address{}, fmt.Errorf("address %q is neither tcp://host:port nor unix:///path", s)
}
