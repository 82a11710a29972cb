package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// spawn forks and execs argv in its own process group. It never waits: the
// reaper learns every exit status.
func spawn(argv, env []string, dir string, cred *syscall.Credential, caps []uintptr, files []uintptr) (int, error) {
	path, err := LookPath(argv[0], env)
	if err != nil {
		return 0, err
	}
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			// Its own group, so a stop or cleanup can reach every
			// descendant with kill(-pgid) and terminal signals sent to
			// phpinit's group do not hit children twice.
			Setpgid:     true,
			Credential:  cred,
			AmbientCaps: caps,
		},
	}
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		return 0, fmt.Errorf("cannot start %s: %w", path, err)
	}
	return pid, nil
}

// LookPath resolves a command on the PATH of the child's environment, which
// may differ from phpinit's (a hook may export PATH).
func LookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", fmt.Errorf("%s: %w", file, err)
		}
		return file, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH", file)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	if st.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// makeRuntimeDirs creates missing directories owned by the program's user
// (systemd's RuntimeDirectory=); existing ones are left as they are.
func makeRuntimeDirs(dirs []string, cred *syscall.Credential) error {
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create runtime directory: %w", err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("cannot create runtime directory: %w", err)
			}
		}
	}
	return nil
}
