package app

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/supervisor"
)

// ExecEnv is what `phpinit exec` runs its command with: phpinit's
// environment after the hooks, then (with a program) the program's user,
// directory and environment, the way buildSpec gives them to the program.
// An explicit user wins over the program's. With neither, the command runs
// as phpinit's own user.
func (a *App) ExecEnv(_ context.Context, req control.ExecRequest) (*control.ExecEnv, error) {
	cfg := a.current.Load()
	p := &config.Program{}
	out := &control.ExecEnv{}
	if req.Program != "" {
		if req.Program == "all" {
			return nil, &control.BadExecRequest{Err: errors.New(`cannot run as "all": name one program or group`)}
		}
		names, err := supervisor.Select(configMembers(cfg), req.Program)
		if err != nil {
			return nil, err
		}
		p = cfg.Programs[names[0]]
		out.Program, out.Dir = p.Name, p.Directory
	}
	name, group := p.User, p.Group
	if os.Geteuid() != 0 {
		// buildSpec keeps phpinit's user then: so does the program.
		name, group = "", ""
	}
	if req.User != "" {
		name, group = req.User, ""
	}
	env := a.env
	if name != "" {
		cred, u, err := credential(name, group)
		if err != nil {
			return nil, &control.BadExecRequest{Err: err}
		}
		out.User, out.UID, out.GID, out.Groups = u.Username, cred.Uid, cred.Gid, cred.Groups
		env = setEnv(env, "HOME", u.HomeDir)
		env = setEnv(env, "USER", u.Username)
		env = setEnv(env, "LOGNAME", u.Username)
	} else {
		out.UID, out.GID = uint32(os.Geteuid()), uint32(os.Getegid())
		gs, _ := os.Getgroups()
		for _, g := range gs {
			out.Groups = append(out.Groups, uint32(g))
		}
		if u, err := user.LookupId(strconv.Itoa(os.Geteuid())); err == nil {
			out.User = u.Username
		}
	}
	for k, v := range p.Environment {
		env = setEnv(env, k, v)
	}
	out.Env = slices.Clone(env)
	return out, nil
}

// ExecEnv makes the control socket answer GET /v1/env.
func (c *source) ExecEnv(ctx context.Context, req control.ExecRequest) (*control.ExecEnv, error) {
	return c.a.ExecEnv(ctx, req)
}

// configMembers lists cfg's programs for supervisor.Select, by name.
func configMembers(cfg *config.Config) []supervisor.Member {
	names := make([]string, 0, len(cfg.Programs))
	for n := range cfg.Programs {
		names = append(names, n)
	}
	slices.Sort(names)
	ms := make([]supervisor.Member, 0, len(names))
	for _, n := range names {
		ms = append(ms, supervisor.Member{Name: n, Group: cfg.Programs[n].ProcessGroup})
	}
	return ms
}

// supervisordDirs are the directories supervisord files come from: each
// include glob's directory (up to its first wildcard), and the directory
// of every file read ([include] files= may point elsewhere). Watching them
// with phpinit.yaml makes a new, edited or removed file a config reload.
func supervisordDirs(cfg *config.Config) []string {
	if cfg.File == "" {
		return nil
	}
	var dirs []string
	add := func(d string) {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, g := range cfg.Supervisord.Include {
		if !filepath.IsAbs(g) {
			g = filepath.Join(filepath.Dir(cfg.File), g)
		}
		add(globDir(g))
	}
	for _, f := range cfg.Supervisord.Files {
		add(filepath.Dir(f))
	}
	return dirs
}

// globDir is the longest leading directory of glob without a wildcard.
func globDir(glob string) string {
	parts := strings.Split(filepath.Clean(glob), string(filepath.Separator))
	for i, p := range parts {
		if strings.ContainsAny(p, `*?[\{`) {
			return string(filepath.Separator) + filepath.Join(parts[:i]...)
		}
	}
	return filepath.Dir(glob)
}
