package healthcheck

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultMaxConnections is http.max_connections' default: far more than
// probes and scrapers need, far fewer than the descriptors phpinit keeps
// for its programs.
const DefaultMaxConnections = 64

// connLimit bounds the health listener's open connections, so that a flood
// of idle keep-alive connections can never take the descriptors that
// probes, pipes and spawns need (each one is also a goroutine and two
// 4 KiB buffers). At the limit, a new connection replaces the one idle the
// longest (never sent a request, or idle between requests): a fresh probe
// is served during a flood, and the flood only churns its own connections.
// When every connection is busy with a request, the new one is closed.
type connLimit struct {
	max     int
	dropped atomic.Uint64 // connections closed by the limit

	mu    sync.Mutex
	conns map[*limitedConn]connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

func newConnLimit(max int) *connLimit {
	return &connLimit{max: max, conns: map[*limitedConn]connInfo{}}
}

// capMaxConnections keeps at most a quarter of RLIMIT_NOFILE for the
// listener, whatever the config says.
func capMaxConnections(n int) int {
	if n <= 0 {
		n = DefaultMaxConnections
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		n = min(n, int(min(rl.Cur/4, 1<<20)))
	}
	return max(n, 1)
}

// listener wraps ln so that Accept enforces the limit.
func (l *connLimit) listener(ln net.Listener) net.Listener { return &limitListener{ln, l} }

// connState is the http.Server's ConnState hook: it tells which
// connections are idle.
func (l *connLimit) connState(c net.Conn, s http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, open := l.conns[lc]; open && s != http.StateClosed && s != http.StateHijacked {
		l.conns[lc] = connInfo{state: s, since: time.Now()}
	}
}

// admit registers c, making room by closing the longest idle connection;
// false: c must be closed, every slot is busy.
func (l *connLimit) admit(c *limitedConn) bool {
	l.mu.Lock()
	var victim *limitedConn
	if len(l.conns) >= l.max {
		victim = l.oldestIdle()
		if victim == nil {
			l.mu.Unlock()
			return false
		}
		delete(l.conns, victim)
	}
	l.conns[c] = connInfo{state: http.StateNew, since: time.Now()}
	l.mu.Unlock()
	if victim != nil {
		l.dropped.Add(1)
		// The server's goroutine for victim sees its read fail and ends.
		_ = victim.Conn.Close()
	}
	return true
}

func (l *connLimit) oldestIdle() *limitedConn {
	var victim *limitedConn
	var since time.Time
	for c, in := range l.conns {
		if in.state != http.StateNew && in.state != http.StateIdle {
			continue
		}
		if victim == nil || in.since.Before(since) {
			victim, since = c, in.since
		}
	}
	return victim
}

func (l *connLimit) release(c *limitedConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// open is how many connections hold a slot.
func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

type limitListener struct {
	net.Listener
	limit *connLimit
}

func (ln *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			// EMFILE and ENFILE are net.Errors the server retries after a
			// pause.
			return nil, err
		}
		lc := &limitedConn{Conn: c, limit: ln.limit}
		if ln.limit.admit(lc) {
			return lc, nil
		}
		ln.limit.dropped.Add(1)
		_ = c.Close()
	}
}

type limitedConn struct {
	net.Conn
	limit *connLimit
	once  sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.limit.release(c) })
	return c.Conn.Close()
}
