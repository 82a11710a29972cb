// Package sockdiag asks the kernel about sockets over NETLINK_SOCK_DIAG
// (sock_diag(7)); phpinit uses it for what php-fpm cannot measure on a unix
// socket: how many connections wait in its accept queue.
package sockdiag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// From linux/unix_diag.h and linux/sock_diag.h; golang.org/x/sys/unix does
// not define the unix_diag ones.
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY

	udiagShowName  = 0x01 // UDIAG_SHOW_NAME
	udiagShowVFS   = 0x02 // UDIAG_SHOW_VFS
	udiagShowRQLen = 0x10 // UDIAG_SHOW_RQLEN

	unixDiagName  = 0 // UNIX_DIAG_NAME
	unixDiagVFS   = 1 // UNIX_DIAG_VFS
	unixDiagRQLen = 4 // UNIX_DIAG_RQLEN

	tcpListen = 10 // TCP_LISTEN, the state of a listening unix socket too

	reqLen = 24 // sizeof(struct unix_diag_req)
	msgLen = 16 // sizeof(struct unix_diag_msg)
)

// ErrNotFound is returned when no listening unix socket is bound at the path.
var ErrNotFound = errors.New("no listening unix socket at that path")

// UnixQueue is a listening unix socket's accept queue.
type UnixQueue struct {
	// Pending is connections made but not yet accepted (sk_ack_backlog).
	Pending uint32
	// Backlog is the queue's size: listen(2)'s backlog, capped by
	// net.core.somaxconn (sk_max_ack_backlog).
	Backlog uint32
}

// unixListener is one socket of a dump.
type unixListener struct {
	name   string
	vfsIno uint64
	hasVFS bool
	queue  UnixQueue
}

// UnixListenQueue reports the accept queue of the listening unix socket
// bound at path, in phpinit's network namespace. A socket file found at
// path is matched by its inode, so a stale socket still bound to an
// unlinked file of the same name is not taken for it; without the file
// (or the inode), the bound name decides.
func UnixListenQueue(path string) (UnixQueue, error) {
	ls, err := dumpUnixListeners()
	if err != nil {
		return UnixQueue{}, err
	}
	var ino uint64
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
	}
	q, ok := pick(ls, path, ino)
	if !ok {
		return UnixQueue{}, fmt.Errorf("cannot find listen queue of %s: %w", path, ErrNotFound)
	}
	return q, nil
}

// pick chooses the socket for path: by file inode when known, else by name.
func pick(ls []unixListener, path string, ino uint64) (UnixQueue, bool) {
	if ino != 0 {
		for _, l := range ls {
			// unix_diag_vfs carries the low 32 bits of the inode.
			if l.hasVFS && l.vfsIno == ino&0xffffffff {
				return l.queue, true
			}
		}
	}
	for _, l := range ls {
		if l.name == path {
			return l.queue, true
		}
	}
	return UnixQueue{}, false
}

// dumpUnixListeners asks for every listening unix socket with its name,
// bound file and queue lengths.
func dumpUnixListeners() ([]unixListener, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("cannot open sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	// A wedged kernel answer must not hang a scrape.
	tv := unix.Timeval{Sec: 2}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Sendto(fd, dumpRequest(), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("cannot send sock_diag request: %w", err)
	}
	var out []unixListener
	buf := make([]byte, 64<<10) // above the kernel's largest dump message (32 KiB)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("cannot read sock_diag answer: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("cannot parse sock_diag answer: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("cannot dump unix sockets: %w", netlinkError(m.Data))
			case sockDiagByFamily:
				if l, ok := parseUnixDiagMsg(m.Data); ok {
					out = append(out, l)
				}
			}
		}
	}
}

func dumpRequest() []byte {
	req := make([]byte, unix.NLMSG_HDRLEN+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[unix.NLMSG_HDRLEN:]
	r[0] = unix.AF_UNIX
	ne.PutUint32(r[4:], 1<<tcpListen)
	ne.PutUint32(r[12:], udiagShowName|udiagShowVFS|udiagShowRQLen)
	ne.PutUint32(r[16:], ^uint32(0)) // cookie: INET_DIAG_NOCOOKIE, no filter
	ne.PutUint32(r[20:], ^uint32(0))
	return req
}

func netlinkError(b []byte) error {
	if len(b) < 4 {
		return errors.New("short netlink error")
	}
	if code := int32(binary.NativeEndian.Uint32(b)); code < 0 {
		return syscall.Errno(-code)
	}
	return errors.New("netlink error without errno")
}

// parseUnixDiagMsg reads a unix_diag_msg and its attributes.
func parseUnixDiagMsg(b []byte) (unixListener, bool) {
	if len(b) < msgLen || b[2] != tcpListen {
		return unixListener{}, false
	}
	var l unixListener
	ne := binary.NativeEndian
	for a := b[msgLen:]; len(a) >= unix.SizeofRtAttr; {
		alen := int(ne.Uint16(a[0:]))
		typ := ne.Uint16(a[2:])
		if alen < unix.SizeofRtAttr || alen > len(a) {
			break
		}
		v := a[unix.SizeofRtAttr:alen]
		switch typ {
		case unixDiagName:
			l.name = string(bytes.TrimRight(v, "\x00"))
		case unixDiagVFS:
			if len(v) >= 8 {
				l.vfsIno, l.hasVFS = uint64(ne.Uint32(v[0:])), true
			}
		case unixDiagRQLen:
			if len(v) >= 8 {
				l.queue = UnixQueue{Pending: ne.Uint32(v[0:]), Backlog: ne.Uint32(v[4:])}
			}
		}
		next := (alen + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if next > len(a) {
			break
		}
		a = a[next:]
	}
	return l, true
}
