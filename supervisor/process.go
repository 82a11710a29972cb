package supervisor

import (
	"fmt"
	"os"
	"syscall"

	"github.com/phpinit/phpinit/internal/proc"
)

// forkProgram forks and execs argv in its own process group, with files as
// its only descriptors and priv applied. It never waits: the reaper learns
// every exit status.
func forkProgram(argv, env []string, dir string, cred *syscall.Credential, caps []uintptr, files []uintptr, priv proc.Privileges) (int, error) {
	path, err := proc.LookPath(argv[0], env, dir)
	if err != nil {
		return 0, err
	}
	attr := &proc.Attr{
		ProcAttr: syscall.ProcAttr{
			Dir:   dir,
			Env:   env,
			Files: files,
			Sys: &syscall.SysProcAttr{
				// Its own group, so a stop or cleanup can reach every
				// descendant with kill(-pgid) and terminal signals sent
				// to phpinit's group do not hit children twice.
				Setpgid:     true,
				Credential:  cred,
				AmbientCaps: caps,
			},
		},
		Privileges: priv,
	}
	pid, err := proc.ForkExec(path, argv, attr)
	if err != nil {
		return 0, fmt.Errorf("cannot start %s: %w", path, err)
	}
	return pid, nil
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
