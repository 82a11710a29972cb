package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawConn is a connected non-blocking stream socket whose connect, reads
// and writes are raw system calls and whose waits go through the runtime's
// poller (os.File.SyscallConn), for probes that keep an idle phpinit idle.
//
// A system call made through syscall.Syscall (every net.Conn operation)
// enters runtime.entersyscall, which wakes the runtime's monitor thread
// (sysmon) from its deep sleep; sysmon then polls every 20 µs until the
// process is idle again. A probe through net.Dial makes about eight such
// calls (socket, connect, getsockname, getpeername, write, read, close,
// ...) and cost an idle phpinit ~40 context switches, against ~1 per
// second for supervisord. unix.RawSyscall does not tell the runtime, which
// is safe here because on a non-blocking socket these calls never block;
// only os.NewFile (fcntl) and Close still go through the runtime.
type rawConn struct {
	f  *os.File
	rc syscall.RawConn
}

var _ net.Conn = (*rawConn)(nil)

// errNoRawDial: the address is not one rawConn dials (a host name, an
// abstract unix socket); the caller uses net.Dialer.
var errNoRawDial = errors.New("no raw dial for this address")

// dialRaw connects to a unix socket path or an IP:port ("tcp"), bounded by
// ctx; a host name is errNoRawDial. A canceled ctx closes the connection
// (and ends a blocked read or write); the caller sets deadlines too.
func dialRaw(ctx context.Context, network, address string) (*rawConn, error) {
	sa, salen, family, err := rawSockaddr(network, address)
	if err != nil {
		return nil, err
	}
	fd, _, errno := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return nil, os.NewSyscallError("socket", errno)
	}
	_, _, errno = unix.RawSyscall(unix.SYS_CONNECT, fd, uintptr(sa), salen)
	f := os.NewFile(fd, network+":"+address)
	c := &rawConn{f: f}
	if c.rc, err = f.SyscallConn(); err != nil {
		f.Close()
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = f.SetDeadline(d)
	}
	switch errno {
	case 0:
		return c, nil
	case unix.EINPROGRESS:
		if err := c.awaitConnect(); err != nil {
			f.Close()
			return nil, err
		}
		return c, nil
	}
	f.Close()
	return nil, os.NewSyscallError("connect", errno)
}

// awaitConnect waits until a TCP connect in progress has finished and
// returns its outcome (SO_ERROR).
func (c *rawConn) awaitConnect() error {
	var soErr error
	err := c.rc.Write(func(fd uintptr) bool {
		pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
		var zero unix.Timespec
		n, _, _ := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
		if n == 0 {
			return false // not yet: wait for writability
		}
		var v int32
		l := uint32(4)
		_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_ERROR,
			uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
		switch {
		case errno != 0:
			soErr = os.NewSyscallError("getsockopt", errno)
		case v != 0:
			soErr = os.NewSyscallError("connect", syscall.Errno(v))
		}
		return true
	})
	if err != nil {
		return err
	}
	return soErr
}

// rawSockaddr encodes address as the kernel's sockaddr.
func rawSockaddr(network, address string) (unsafe.Pointer, uintptr, int, error) {
	switch network {
	case "unix":
		if !strings.HasPrefix(address, "/") {
			return nil, 0, 0, errNoRawDial
		}
		sa := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
		if len(address) >= len(sa.Path) {
			return nil, 0, 0, fmt.Errorf("unix socket path too long: %s", address)
		}
		for i := 0; i < len(address); i++ {
			sa.Path[i] = int8(address[i])
		}
		return unsafe.Pointer(sa), unsafe.Offsetof(sa.Path) + uintptr(len(address)) + 1, unix.AF_UNIX, nil
	case "tcp":
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return nil, 0, 0, errNoRawDial
		}
		port := ap.Port()
		if a := ap.Addr().Unmap(); a.Is4() {
			sa := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
			p := (*[2]byte)(unsafe.Pointer(&sa.Port))
			p[0], p[1] = byte(port>>8), byte(port)
			return unsafe.Pointer(sa), unsafe.Sizeof(*sa), unix.AF_INET, nil
		}
		if ap.Addr().Zone() != "" {
			return nil, 0, 0, errNoRawDial
		}
		sa := &unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unsafe.Pointer(sa), unsafe.Sizeof(*sa), unix.AF_INET6, nil
	}
	return nil, 0, 0, errNoRawDial
}

func (c *rawConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == unix.EAGAIN {
			return false
		}
		n, errno = int(r), e
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawConn) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		var errno syscall.Errno
		err := c.rc.Write(func(fd uintptr) bool {
			r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[done])), uintptr(len(b)-done))
			if e == unix.EAGAIN {
				return false
			}
			if e == 0 {
				done += int(r)
			}
			errno = e
			return true
		})
		if err != nil {
			return done, err
		}
		if errno != 0 {
			return done, os.NewSyscallError("write", errno)
		}
	}
	return done, nil
}

func (c *rawConn) Close() error                       { return c.f.Close() }
func (c *rawConn) LocalAddr() net.Addr                { return nil }
func (c *rawConn) RemoteAddr() net.Addr               { return nil }
func (c *rawConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *rawConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *rawConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// dialProbe dials network ("unix" or "tcp") address for one probe: raw
// (dialRaw) when it can, else through net.Dialer. The connection's
// deadline is ctx's, and ctx's cancellation ends a blocked read or write;
// done closes it.
func dialProbe(ctx context.Context, network, address string) (conn net.Conn, done func(), err error) {
	conn, err = dialRaw(ctx, network, address)
	if errors.Is(err, errNoRawDial) {
		var d net.Dialer
		conn, err = d.DialContext(ctx, network, address)
	}
	if err != nil {
		return nil, nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	// The deadline in the past makes blocked calls return at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return conn, func() { stop(); conn.Close() }, nil
}
