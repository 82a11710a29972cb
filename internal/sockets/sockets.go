// Package sockets holds listening sockets for programs across their
// restarts. phpinit binds each address once and hands the same fds to every
// start of the program (php-fpm takes them through FPM_SOCKETS, nginx
// through NGINX), so while a program is down connections wait in the
// kernel's accept backlog instead of being refused.
//
// A unix socket is bound at a private path under phpinit's runtime
// directory and hard-linked (link(2)) to its public path: php-fpm unlinks
// the public path when it exits gracefully, and Relink puts it back; the
// socket itself, held open here, never goes away.
package sockets

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultMode is a unix socket's mode when Spec.Mode is 0: php-fpm's own
// default for listen.mode.
const DefaultMode os.FileMode = 0o660

// backlog asks for the largest accept queue; the kernel caps it at
// net.core.somaxconn. The queue is what carries connections across a
// restart, so it should be long.
const backlog = 65535

// Spec is one socket to hold.
type Spec struct {
	Address Address
	// UID and GID own a unix socket file; -1 leaves phpinit's.
	UID, GID int
	// Mode of a unix socket file; 0 means DefaultMode.
	Mode os.FileMode
	// Nonblocking sets O_NONBLOCK on the socket, which the program shares
	// (it is a flag of the open file, not of the fd). nginx needs it: it
	// sets O_NONBLOCK only on sockets it creates (ngx_open_listening_sockets;
	// an inherited one is expected to come from an older nginx), and a
	// worker that finds a blocking listener accepts in a blocking
	// accept4(2) after another took the connection, where it cannot stop
	// gracefully. php-fpm needs it off: its workers accept blocking, and on
	// EAGAIN they exit at once, to be forked again, in a loop.
	Nonblocking bool
}

// held is one bound socket.
type held struct {
	spec    Spec
	file    *os.File
	fd      int    // file's fd, kept apart: File.Fd() would make it blocking
	key     string // the name php-fpm knows it by
	private string // unix: where it is bound
	dev     uint64 // unix: the socket file's inode, to recognise links
	ino     uint64
}

// Set is the sockets of one program, in the order of its specs.
type Set struct {
	// mu orders relinks (the guard's goroutine, Relink) and Close.
	mu       sync.Mutex
	held     []*held
	guard    *guard
	stopping bool // the guard relinks (Stopping)
}

// Bind binds and listens on every spec. Unix sockets are bound under dir
// (created 0700) when it is on the same filesystem as the public path
// (link(2) cannot cross filesystems), else beside the public path under a
// hidden name. On any error nothing stays bound and every error is given.
func Bind(dir string, specs []Spec) (*Set, error) {
	s := &Set{}
	var errs []error
	for _, sp := range specs {
		h, err := bind(dir, sp)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.held = append(s.held, h)
	}
	if len(errs) > 0 {
		s.Close()
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func bind(dir string, sp Spec) (*held, error) {
	switch sp.Address.Network {
	case "tcp":
		return bindTCP(sp)
	case "unix":
		return bindUnix(dir, sp)
	}
	return nil, fmt.Errorf("cannot bind %s: unknown network %q", sp.Address, sp.Address.Network)
}

// listenFD makes a blocking, close-on-exec listening socket (Files sets
// O_NONBLOCK as the spec says before each start); exec clears
// close-on-exec on the copies ExtraFiles puts at fd 3 and up.
func listenFD(family int, sa unix.Sockaddr) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func bindTCP(sp Spec) (*held, error) {
	host, port, err := net.SplitHostPort(sp.Address.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	ip, err := resolve(host)
	if err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	n, _ := strconv.Atoi(port)
	var fd int
	if ip.Is4() {
		fd, err = listenFD(unix.AF_INET, &unix.SockaddrInet4{Port: n, Addr: ip.As4()})
	} else {
		fd, err = listenFD(unix.AF_INET6, &unix.SockaddrInet6{Port: n, Addr: ip.As16()})
	}
	if err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	h := newHeld(sp, fd, "")
	bound, err := unix.Getsockname(fd)
	if err != nil {
		h.file.Close()
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	h.key = inetKey(bound)
	return h, nil
}

// newHeld wraps fd, still blocking: os.NewFile registers a non-blocking
// fd with the runtime's poller, and then exec's File.Fd() makes it
// blocking again. The flag is set on the raw fd, by Files, before each start.
func newHeld(sp Spec, fd int, private string) *held {
	return &held{spec: sp, file: os.NewFile(uintptr(fd), sp.Address.String()), fd: fd, private: private}
}

// resolve gives an IP literal back as it is and looks a name up, IPv4
// first, the way php-fpm resolves a host in its pool's listen.
func resolve(host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap(), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("no address for %s", host)
	}
	for _, ip := range ips {
		if ip.Is4() {
			return ip.Unmap(), nil
		}
	}
	return ips[0], nil
}

// inetKey is the name php-fpm gives an inet listening socket, which the
// name in FPM_SOCKETS must equal for php-fpm to use the inherited fd
// instead of binding its own (sapi/fpm/fpm/fpm_sockets.c,
// fpm_sockets_hash_op; a unix socket's name is its pool's listen value):
// the bound IP as inet_ntop prints it, ":", the port, with no brackets
// around an IPv6 address ("127.0.0.1:9000", "::1:9000", and ":::9000" for
// "listen = 9000", which php-fpm 8 binds on [::]).
func inetKey(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr).String() + ":" + strconv.Itoa(a.Port)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).String() + ":" + strconv.Itoa(a.Port)
	}
	return ""
}

// privatePath is where a unix socket is bound: under dir when dir is on
// the public path's filesystem, else beside the public path.
func privatePath(dir, public string) (string, error) {
	pubDir := filepath.Dir(public)
	var d, p unix.Stat_t
	if err := unix.Stat(pubDir, &p); err != nil {
		return "", fmt.Errorf("cannot stat %s: %w", pubDir, err)
	}
	h := fnv.New32a()
	h.Write([]byte(public))
	name := fmt.Sprintf("%08x.sock", h.Sum32())
	if err := os.MkdirAll(dir, 0o700); err == nil && unix.Stat(dir, &d) == nil && d.Dev == p.Dev {
		if path := filepath.Join(dir, name); len(path) <= maxUnixPath {
			return path, nil
		}
	}
	return filepath.Join(pubDir, "."+filepath.Base(public)+".held"), nil
}
