package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// defaultPath is searched when neither the program's environment nor
// Options.Environ sets PATH; it is Docker's default.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// system is what the host checks ask of this machine; tests fake it.
type system interface {
	Geteuid() int
	Getegid() int
	// LookupUser and LookupGroup take a name or a numeric id.
	LookupUser(s string) (*user.User, error)
	LookupGroup(s string) (*user.Group, error)
}

type hostSystem struct{}

func (hostSystem) Geteuid() int { return os.Geteuid() }
func (hostSystem) Getegid() int { return os.Getegid() }

func (hostSystem) LookupUser(s string) (*user.User, error) {
	if isIndex(s) {
		return user.LookupId(s)
	}
	return user.Lookup(s)
}

func (hostSystem) LookupGroup(s string) (*user.Group, error) {
	if isIndex(s) {
		return user.LookupGroupId(s)
	}
	return user.LookupGroup(s)
}

// checkHost checks what only this machine can tell: users and groups exist,
// phpinit may switch to them, and commands resolve.
func (l *loader) checkHost(c *Config) {
	for _, name := range sortedKeys(c.Programs) {
		p, key := c.Programs[name], "programs."+name
		restore := l.p.at(p.Source)
		l.checkUser(key, p)
		l.checkGroup(key, p)
		path := l.searchPath(p)
		l.checkCommand(key+".command", p.Command, p.Directory, path)
		l.checkCommand(key+".check", p.Check, p.Directory, path)
		if p.Ready != nil {
			l.checkCommand(key+".ready.exec", p.Ready.Exec, p.Directory, path)
		}
		if p.Live != nil {
			l.checkCommand(key+".live.exec", p.Live.Exec, p.Directory, path)
		}
		restore()
	}
}

func (l *loader) checkUser(key string, p *Program) {
	if p.User == "" {
		return
	}
	uid := p.User
	if u, err := l.sys.LookupUser(p.User); err == nil {
		uid = u.Uid
	} else if !isIndex(p.User) {
		l.p.add(key+".user", fmt.Sprintf("unknown user %q", p.User))
		return
	} else if p.Group == "" {
		// A uid with no passwd entry is fine for the kernel, but then
		// there is no primary group to default to.
		l.p.add(key+".user", fmt.Sprintf("uid %s has no passwd entry, so group must be set", p.User))
	}
	if euid := l.sys.Geteuid(); euid != 0 && uid != strconv.Itoa(euid) {
		l.p.add(key+".user", fmt.Sprintf(
			"phpinit runs as uid %d and cannot switch to %q; remove user or run phpinit as root", euid, p.User))
	}
}

func (l *loader) checkGroup(key string, p *Program) {
	if p.Group == "" {
		return
	}
	gid := p.Group
	if g, err := l.sys.LookupGroup(p.Group); err == nil {
		gid = g.Gid
	} else if !isIndex(p.Group) {
		l.p.add(key+".group", fmt.Sprintf("unknown group %q", p.Group))
		return
	}
	// Without CAP_SETGID, setgid(2) only accepts phpinit's own gid.
	if l.sys.Geteuid() != 0 && gid != strconv.Itoa(l.sys.Getegid()) {
		l.p.add(key+".group", fmt.Sprintf(
			"phpinit runs as gid %d and cannot switch to %q; remove group or run phpinit as root", l.sys.Getegid(), p.Group))
	}
}

// searchPath is the PATH the program's command is found on: its own
// environment's, else phpinit's. Hooks may still change it at start.
func (l *loader) searchPath(p *Program) string {
	if v, ok := p.Environment["PATH"]; ok {
		return v
	}
	for _, kv := range l.o.Environ {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return defaultPath
}

func (l *loader) checkCommand(key string, argv []string, dir, path string) {
	if len(argv) == 0 || argv[0] == "" {
		return // validate reports a missing command
	}
	if err := findExecutable(argv[0], dir, path); err != nil {
		l.p.add(key, err.Error())
	}
}

// findExecutable does what execve(2) will: a name with a slash is used as
// is (relative to dir), any other is searched on path.
func findExecutable(file, dir, path string) error {
	if strings.Contains(file, "/") {
		if !filepath.IsAbs(file) && dir != "" {
			file = filepath.Join(dir, file)
		}
		return executable(file)
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if executable(filepath.Join(d, file)) == nil {
			return nil
		}
	}
	return fmt.Errorf("%q not found in PATH %s", file, path)
}

func executable(file string) error {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%q does not exist", file)
	case err != nil:
		return fmt.Errorf("cannot check %q: %w", file, errors.Unwrap(err))
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%q is not executable", file)
	}
	return nil
}
