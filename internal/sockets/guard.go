package sockets

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// guard links a unix socket's public path back the moment it is removed,
// instead of after the program's exit is seen: php-fpm unlinks its unix
// sockets' paths at a graceful exit, just before it exits, and from then
// until the relink every connect(2) to the path fails with ENOENT (nginx
// answers 502). One inotify instance watches the directories of the
// set's public paths (IN_DELETE, IN_MOVED_FROM); one goroutine reads it
// and relinks, so the gap is one wakeup of that goroutine, not the exit,
// the reap and a pass of the supervisor's loop.
//
// The gap is still there, only short: where the program cannot remove the
// path at all (its directory sticky and the socket file not its own, as
// the shipped /run/php; see README, "Restarts without failed requests"),
// there is none.
//
// It acts only while the program is stopping (Set.Stopping): php-fpm also
// unlinks, at its start, the path of a held socket no pool listens on (a
// pool whose listen was changed), and that path must stay gone, so a
// client gets ENOENT (a quick 502) rather than waiting in a backlog
// nobody accepts from.
type guard struct {
	file *os.File // the inotify fd, non-blocking, in the runtime's poller
	wds  map[int32]string
	done chan struct{}
}

// Guard starts watching the set's unix socket paths. report is called, on
// the guard's goroutine, with the paths it linked back, or an error (a
// path it could not restore, or an inotify queue overflow, after which
// it relinks everything it holds). A set without unix sockets needs no
// guard and starts none. Close stops it.
func (s *Set) Guard(report func(restored []string, err error)) error {
	dirs := map[string]bool{}
	for _, h := range s.held {
		if h.private != "" {
			dirs[filepath.Dir(h.spec.Address.Addr)] = true
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("cannot watch the socket paths: %w", err)
	}
	g := &guard{file: os.NewFile(uintptr(fd), "inotify"), wds: map[int32]string{}, done: make(chan struct{})}
	for dir := range dirs {
		wd, err := unix.InotifyAddWatch(fd, dir, unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_ONLYDIR)
		if err != nil {
			g.file.Close()
			return fmt.Errorf("cannot watch %s: %w", dir, err)
		}
		g.wds[int32(wd)] = dir
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.guard != nil {
		g.file.Close()
		return errors.New("the socket paths are already watched")
	}
	s.guard = g
	go s.watch(g, report)
	return nil
}

// watch reads the guard's events until its file is closed.
func (s *Set) watch(g *guard, report func([]string, error)) {
	defer close(g.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := g.file.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				report(nil, fmt.Errorf("socket path guard stopped: %w", err))
			}
			return
		}
		removed, overflow := g.parse(buf[:n])
		if overflow {
			back, err := s.Relink()
			report(back, errors.Join(errors.New("socket path guard: inotify queue overflow, relinked all"), err))
			continue
		}
		if back, err := s.relinkPaths(removed); len(back) > 0 || err != nil {
			report(back, err)
		}
	}
}

// parse gives the paths the events name, and whether the queue overflowed.
func (g *guard) parse(b []byte) (paths map[string]bool, overflow bool) {
	paths = map[string]bool{}
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			break
		}
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			overflow = true
		}
		if dir, ok := g.wds[ev.Wd]; ok && ev.Len > 0 {
			name := b[unix.SizeofInotifyEvent:end]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			paths[filepath.Join(dir, string(name))] = true
		}
		b = b[end:]
	}
	return paths, overflow
}

// Stopping tells the guard whether the program is stopping: while it is,
// a removed socket path is linked back at once. The supervisor sets it
// just before it sends the stop signal, and clears it after the exit
// (with Relink).
func (s *Set) Stopping(on bool) {
	s.mu.Lock()
	s.stopping = on
	s.mu.Unlock()
}

// relinkPaths relinks the held sockets whose public path is in paths,
// while the program is stopping.
func (s *Set) relinkPaths(paths map[string]bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopping || len(paths) == 0 {
		return nil, nil
	}
	return s.relinkLocked(paths)
}

// stopWait bounds stop's wait for the goroutine, which may be in a
// link(2) on a hung filesystem: Close must not hang with it.
const stopWait = 2 * time.Second

// stop closes the inotify fd and waits (at most stopWait) for the
// goroutine. One that is late finds the set closed (no sockets left) and
// relinks nothing.
func (g *guard) stop() {
	g.file.Close()
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-g.done:
	case <-t.C:
	}
}
