package control

import (
	"context"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peer is who is on the other end of a connection, as the kernel recorded
// it at connect(2) time (unix(7), SO_PEERCRED): it cannot be forged by the
// client and does not change if the client later drops privileges.
type peer struct {
	uid, pid int
	err      error
}

type peerKey struct{}

// withPeer is the http.Server's ConnContext: it reads the credentials once
// per connection.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, peerOf(c))
}

func peerOf(c net.Conn) peer {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{uid: -1, err: fmt.Errorf("not a unix socket connection (%T)", c)}
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{uid: -1, err: err}
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{uid: -1, err: err}
	}
	if credErr != nil {
		return peer{uid: -1, err: fmt.Errorf("cannot read SO_PEERCRED: %w", credErr)}
	}
	return peer{uid: int(cred.Uid), pid: int(cred.Pid)}
}

func peerFrom(ctx context.Context) peer {
	if p, ok := ctx.Value(peerKey{}).(peer); ok {
		return p
	}
	return peer{uid: -1, err: errors.New("no peer credentials")}
}

// allowed reports whether the peer may use the API: root, or the user
// phpinit runs as. Unknown credentials are refused.
func (p peer) allowed(euid int) bool {
	return p.err == nil && p.uid >= 0 && (p.uid == 0 || p.uid == euid)
}
