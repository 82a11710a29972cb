package sockets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func bindUnix(dir string, sp Spec) (*held, error) {
	public := sp.Address.Addr
	if err := os.MkdirAll(filepath.Dir(public), 0o755); err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	if err := clearStale(public); err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	private, err := privatePath(dir, public)
	if err != nil {
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	// Left by an earlier phpinit: nothing else binds in our directory.
	if err := os.Remove(private); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	fd, err := listenFD(unix.AF_UNIX, &unix.SockaddrUnix{Name: private})
	if err != nil {
		return nil, fmt.Errorf("cannot bind %s at %s: %w", sp.Address, private, err)
	}
	h := newHeld(sp, fd, private)
	h.key = public
	if err := h.own(); err != nil {
		h.close()
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	if err := os.Link(private, public); err != nil {
		h.close()
		return nil, fmt.Errorf("cannot bind %s: %w", sp.Address, err)
	}
	return h, nil
}

// own sets the socket file's owner and mode (clients need write permission
// on it to connect(2)) and remembers its inode. The file is still only at
// the private path, in a directory no one else can enter, so it is never
// reachable with bind's umask-made mode.
func (h *held) own() error {
	mode := h.spec.Mode
	if mode == 0 {
		mode = DefaultMode
	}
	if h.spec.UID != -1 || h.spec.GID != -1 {
		if err := os.Lchown(h.private, h.spec.UID, h.spec.GID); err != nil {
			return err
		}
	}
	if err := os.Chmod(h.private, mode.Perm()); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(h.private, &st); err != nil {
		return fmt.Errorf("cannot stat %s: %w", h.private, err)
	}
	h.dev, h.ino = st.Dev, st.Ino
	return nil
}

// clearStale removes a socket file left at path by a process that is gone
// (a container restarted with the same volume); a socket someone still
// accepts on, or a file of another type, is an error.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := dialUnix(path); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use: something accepts connections on it", path)
	}
	return os.Remove(path)
}

func dialUnix(path string) (interface{ Close() error }, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// A blocking unix connect to a path with no listener fails at once
	// (ECONNREFUSED); to a live one it completes through the backlog.
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// relink puts the public path back when it is gone (php-fpm unlinks it
// when it exits gracefully). A public path that is a different file is
// left alone and reported: something else has bound there.
func (h *held) relink() (bool, error) {
	public := h.spec.Address.Addr
	var st unix.Stat_t
	err := unix.Lstat(public, &st)
	switch {
	case err == nil && st.Dev == h.dev && st.Ino == h.ino:
		return false, nil
	case err == nil:
		return false, fmt.Errorf("cannot relink %s: another file is there", public)
	case !errors.Is(err, unix.ENOENT):
		return false, fmt.Errorf("cannot relink %s: %w", public, err)
	}
	if err := os.MkdirAll(filepath.Dir(public), 0o755); err != nil {
		return false, fmt.Errorf("cannot relink %s: %w", public, err)
	}
	if err := os.Link(h.private, public); err != nil {
		return false, fmt.Errorf("cannot relink %s: %w", public, err)
	}
	return true, nil
}

// close closes the socket and, for unix, removes both its names (the
// public one only while it is still ours).
func (h *held) close() error {
	err := h.file.Close()
	if h.private == "" {
		return err
	}
	var st unix.Stat_t
	if h.ino != 0 && unix.Lstat(h.spec.Address.Addr, &st) == nil && st.Dev == h.dev && st.Ino == h.ino {
		os.Remove(h.spec.Address.Addr)
	}
	os.Remove(h.private)
	return err
}
