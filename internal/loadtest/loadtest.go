// Package loadtest is the load of the restart tests (internal/sockets,
// integration): clients sending one request after another, each on a new
// connection, counting what was answered and what failed. Tests only.
package loadtest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load runs its clients until End.
type Load struct {
	Ok, Failed atomic.Int64
	mu         sync.Mutex
	errs       []error
	stop       chan struct{}
	wg         sync.WaitGroup
}

// Start runs clients goroutines, each calling one in a loop.
func Start(clients int, one func() error) *Load {
	l := &Load{stop: make(chan struct{})}
	for range clients {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if err := one(); err != nil {
					l.Failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err)
					}
					l.mu.Unlock()
					time.Sleep(time.Millisecond) // a refused dial fails at once: do not spin
					continue
				}
				l.Ok.Add(1)
			}
		})
	}
	return l
}

// Served waits until n more requests have been answered (a new master
// serves the load), failing t after deadline.
func (l *Load) Served(t *testing.T, n int64, deadline time.Duration) {
	t.Helper()
	want := l.Ok.Load() + n
	end := time.Now().Add(deadline)
	for l.Ok.Load() < want {
		if time.Now().After(end) {
			t.Fatalf("no %d answers within %v (ok=%d failed=%d)", n, deadline, l.Ok.Load(), l.Failed.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// End stops the clients and waits for them.
func (l *Load) End() {
	close(l.stop)
	l.wg.Wait()
}

// Errs are the first errors seen (at most 5).
func (l *Load) Errs() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}
