package control

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// probeTimeout bounds the connect that tells a live socket from a stale
// one. A connect to a unix socket whose backlog is full blocks rather than
// failing, so it needs a bound.
const probeTimeout = time.Second

// Listen creates the control socket at path, mode 0600, owned by phpinit's
// user, creating its directory (0700) when missing. A socket file left by an
// earlier run (connect is refused) is replaced; a socket another process
// still serves is an error, so two phpinits never fight over one path.
func Listen(path string, logger *slog.Logger) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("cannot listen on the control socket: no path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the control socket's directory: %w", err)
	}
	if err := removeStale(path, logger); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	// bind(2) creates the file with mode 0777 &^ umask; tightening it
	// afterwards leaves a window in which another user could connect, which
	// is why every request is also checked with SO_PEERCRED (see peer.go).
	// Changing the umask instead would race with every other goroutine
	// creating files, since umask is per process.
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("cannot restrict %s to mode 0600: %w", path, err)
	}
	return l, nil
}

// removeStale removes a socket file nobody serves. Only a socket is ever
// removed: a regular file at the path is a misconfiguration to report, not
// something to delete.
func removeStale(path string, logger *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot inspect %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("cannot listen on %s: it exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("another phpinit is serving %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot tell whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove stale socket %s: %w", path, err)
	}
	logger.Info("removed stale control socket", "path", path)
	return nil
}
