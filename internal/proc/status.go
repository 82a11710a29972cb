package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit statuses the way a shell reports a command it could not run
// (bash(1) EXIT STATUS; tini does the same).
const (
	// CodeNotExecutable: the file exists but cannot be executed (no x bit,
	// a directory, a bad interpreter).
	CodeNotExecutable = 126
	// CodeNotFound: no such file, or not found on PATH.
	CodeNotFound = 127
)

// ErrNotFound is wrapped by LookPath's error for a command that is nowhere.
var ErrNotFound = errors.New("not found")

// ErrNotExecutable is wrapped by LookPath's error for a command found only
// as a directory or a file without execute permission.
var ErrNotExecutable = errors.New("not executable")

// DefaultPath is the PATH a child gets when its environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Code maps a wait status to a shell-style exit status: the exit code, or
// 128+N when the process died of signal N.
func Code(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 255
}

// Describe says how the process ended, e.g. "exit status 3" or "signal killed".
func Describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		s := "signal " + unix.SignalName(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// StartCode is the exit status a shell gives a command that could not be
// started with err: 127 when it does not exist, else 126.
func StartCode(err error) int {
	if errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return CodeNotFound
	}
	return CodeNotExecutable
}

// LookPath resolves file the way execvp does, on the PATH of the child's
// environment env (which may differ from phpinit's: a hook may export PATH).
// A relative name with a slash, and relative PATH entries, are taken from
// dir, the directory the child starts in ("" = phpinit's). Like bash, a
// search that finds only a directory or a non-executable file reports that
// one (ErrNotExecutable, 126) rather than "not found" (127).
func LookPath(file string, env []string, dir string) (string, error) {
	if file == "" {
		return "", fmt.Errorf("empty command: %w", ErrNotFound)
	}
	if strings.Contains(file, "/") {
		if err := executable(inDir(dir, file)); err != nil {
			return "", fmt.Errorf("%s: %w", file, err)
		}
		return inDir(dir, file), nil
	}
	pathEnv := DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	var found error
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		p := inDir(dir, filepath.Join(d, file))
		err := executable(p)
		if err == nil {
			return p, nil
		}
		if found == nil && !errors.Is(err, ErrNotFound) {
			found = fmt.Errorf("%s: %w", p, err)
		}
	}
	if found != nil {
		return "", found
	}
	return "", fmt.Errorf("%s %w in PATH", file, ErrNotFound)
}

func inDir(dir, p string) string {
	if dir == "" || filepath.IsAbs(p) {
		return p
	}
	// Absolute: the child chdirs to dir before execve, where a path
	// relative to a relative dir would no longer resolve.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(dir, p)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return notExecutable("is a directory")
	}
	if st.Mode()&0o111 == 0 {
		return notExecutable("permission denied")
	}
	return nil
}

// notExecutable is ErrNotExecutable saying why, the way execve's errno does.
type notExecutable string

func (e notExecutable) Error() string        { return string(e) }
func (e notExecutable) Is(target error) bool { return target == ErrNotExecutable }
