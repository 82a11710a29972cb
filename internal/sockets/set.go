package sockets

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Files are the held sockets for exec.Cmd.ExtraFiles (or after the three
// standard fds in os.ProcAttr.Files), in the order of the specs. The same
// files go to every start; the child gets its own copies. Each socket's
// O_NONBLOCK is set as its spec says first, whatever the last program
// left.
func (s *Set) Files() ([]*os.File, error) {
	files := make([]*os.File, len(s.held))
	var errs []error
	for i, h := range s.held {
		if err := unix.SetNonblock(h.fd, h.spec.Nonblocking); err != nil {
			errs = append(errs, fmt.Errorf("cannot set O_NONBLOCK on %s: %w", h.spec.Address, err))
		}
		files[i] = h.file
	}
	return files, errors.Join(errs...)
}

// Env gives the variables that tell php-fpm and nginx which fds are
// inherited listeners, for files numbered from first (3 when Files are
// the whole of ExtraFiles). Both are set for every program: php-fpm
// ignores NGINX and nginx ignores FPM_SOCKETS.
//
//	FPM_SOCKETS=/run/php/php-fpm.sock=3,127.0.0.1:9000=4
//	NGINX=3;4;
//
// php-fpm reads "name=fd" pairs split by "," and uses an fd for the pool
// whose listen has that exact name (see inetKey); nginx reads fds each
// ended by ";" (or ":") and matches them to its listen directives by the
// address getsockname(2) reports.
func (s *Set) Env(first int) []string {
	if len(s.held) == 0 {
		return nil
	}
	var fpm, ngx strings.Builder
	for i, h := range s.held {
		fd := strconv.Itoa(first + i)
		if i > 0 {
			fpm.WriteByte(',')
		}
		fpm.WriteString(h.key + "=" + fd)
		ngx.WriteString(fd + ";")
	}
	return []string{"FPM_SOCKETS=" + fpm.String(), "NGINX=" + ngx.String()}
}

// Keys are the names php-fpm knows the sockets by, in order: a unix
// socket's path, an inet socket's "ip:port" (with the port bound, for port
// 0).
func (s *Set) Keys() []string {
	keys := make([]string, len(s.held))
	for i, h := range s.held {
		keys[i] = h.key
	}
	return keys
}

// Relink restores every unix socket's public path that a program removed,
// and returns the paths it put back. Call it after each exit of the
// program, before its next start.
func (s *Set) Relink() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relinkLocked(nil)
}

// relinkLocked relinks the unix sockets whose public path is in only (all
// of them when only is nil), with s.mu held.
func (s *Set) relinkLocked(only map[string]bool) ([]string, error) {
	var back []string
	var errs []error
	for _, h := range s.held {
		if h.private == "" || (only != nil && !only[h.spec.Address.Addr]) {
			continue
		}
		ok, err := h.relink()
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			back = append(back, h.spec.Address.Addr)
		}
	}
	return back, errors.Join(errs...)
}

// Close closes every socket and removes the unix socket files. Connections
// still in a backlog are reset.
func (s *Set) Close() error {
	s.mu.Lock()
	g := s.guard
	s.guard = nil
	s.mu.Unlock()
	if g != nil {
		// First: closing removes the public paths, which it must not
		// put back.
		g.stop()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, h := range s.held {
		if err := h.close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.held = nil
	return errors.Join(errs...)
}
