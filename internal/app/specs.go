package app

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-multierror"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/probe"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/supervisor"
)

// buildSpecs turns the config into what the supervisor runs. base is the
// environment after the hooks (phpinit's own plus the script's exports).
func buildSpecs(cfg *config.Config, base []string) ([]supervisor.ProgramSpec, error) {
	var errs *multierror.Error
	specs := make([]supervisor.ProgramSpec, 0, len(cfg.Programs))
	for _, name := range cfg.Order() {
		spec, err := buildSpec(cfg.Programs[name], base)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("program %s: %w", name, err))
			continue
		}
		specs = append(specs, spec)
	}
	return specs, errs.ErrorOrNil()
}

func buildSpec(p *config.Program, base []string) (supervisor.ProgramSpec, error) {
	restart, _ := supervisor.ParseRestart(p.Autorestart)
	spec := supervisor.ProgramSpec{
		Name:             p.Name,
		Group:            p.ProcessGroup,
		Manual:           !p.IsAutostart(),
		Command:          p.Command,
		Dir:              p.Directory,
		RuntimeDirectory: p.RuntimeDirectory,
		DependsOn:        p.DependsOn,
		Critical:         p.IsCritical(),
		Restart:          restart,
		ExitCodes:        p.ExitCodes,
		StartSeconds:     p.StartSeconds,
		StartRetries:     p.Retries(),
		BackoffInitial:   p.Backoff.Initial,
		BackoffMax:       p.Backoff.Max,
		StopSignal:       p.StopSignal.Sys(),
		StopAsGroup:      p.StopAsGroup,
		StopTimeout:      p.StopTimeout,
		ReloadSignal:     p.ReloadSignal.Sys(),
		ReopenSignal:     p.ReopenSignal.Sys(),
		Check:            p.Check,
		OnChangeRestart:  p.OnChange == "restart",
		Stdout:           logsink.Spec{Program: p.Name, Stream: "stdout", Mode: p.Stdout, MaxSize: int64(p.StdoutMaxSize), Backups: p.StdoutBackups},
		Stderr:           logsink.Spec{Program: p.Name, Stream: "stderr", Mode: p.Stderr, MaxSize: int64(p.StderrMaxSize), Backups: p.StderrBackups},
	}
	env := base
	if p.User != "" && os.Geteuid() == 0 {
		cred, u, err := credential(p.User, p.Group)
		if err != nil {
			return spec, err
		}
		spec.Credential = cred
		env = setEnv(env, "HOME", u.HomeDir)
		env = setEnv(env, "USER", u.Username)
		env = setEnv(env, "LOGNAME", u.Username)
		for _, c := range p.Capabilities {
			n, ok := config.CapabilityNumber(c)
			if !ok {
				return spec, fmt.Errorf("unknown capability %q", c)
			}
			spec.AmbientCaps = append(spec.AmbientCaps, n)
		}
	}
	for k, v := range p.Environment {
		env = setEnv(env, k, v)
	}
	spec.Env = env
	spec.Fingerprint = fingerprint(p, env)
	var err error
	if spec.Ready, err = probeSpec(p.Ready, env, spec.Credential); err != nil {
		return spec, fmt.Errorf("ready: %w", err)
	}
	if spec.Live, err = probeSpec(p.Live, env, spec.Credential); err != nil {
		return spec, fmt.Errorf("live: %w", err)
	}
	spec.Privileges = privileges(p, spec)
	for _, ps := range []*supervisor.ProbeSpec{spec.Ready, spec.Live} {
		if ps != nil {
			ps.Probe.Privileges = spec.Privileges
		}
	}
	return spec, scheduleSpec(p, &spec) // schedule.go
}

// privileges: no_new_privs as configured, and for a program that runs as
// another, non-root user, a bounding set of exactly its capabilities. A
// root program keeps phpinit's bounding set, since it needs what root does
// (an empty set would leave it no capability at all); a non-root phpinit
// cannot lower it anyway (no CAP_SETPCAP).
func privileges(p *config.Program, spec supervisor.ProgramSpec) proc.Privileges {
	pv := proc.Privileges{NoNewPrivs: p.NoNewPrivileges()}
	// Root without CAP_SETPCAP (`docker run --cap-drop SETPCAP`) cannot
	// lower a child's bounding set; New says so.
	if spec.Credential != nil && spec.Credential.Uid != 0 && proc.CanRestrictBounding() {
		pv.RestrictBounding, pv.Bounding = true, spec.AmbientCaps
	}
	return pv
}

// probeSpec is the probe p describes, checked now so that a bad one is a
// config error; the supervisor builds the prober it runs.
func probeSpec(p *config.Probe, env []string, cred *syscall.Credential) (*supervisor.ProbeSpec, error) {
	if p == nil {
		return nil, nil
	}
	ps := probe.Spec{
		FastCGI:      p.FastCGI,
		Path:         p.Path,
		HTTP:         p.HTTP,
		ExpectStatus: p.ExpectStatus,
		TCP:          p.TCP,
		Exec:         p.Exec,
		Timeout:      p.Timeout,
		Env:          env,
		Credential:   cred,
	}
	if _, err := probe.New(ps); err != nil {
		return nil, err
	}
	return &supervisor.ProbeSpec{
		Probe:            ps,
		Interval:         p.Interval,
		FailureThreshold: p.FailureThreshold,
		SuccessThreshold: p.SuccessThreshold,
		StartTimeout:     p.StartTimeout,
	}, nil
}

// credential resolves user (and group, default its primary group) with
// supplementary groups, as setgid + setgroups + setuid will apply them.
func credential(name, group string) (*syscall.Credential, *user.User, error) {
	u, err := lookupUser(name)
	if err != nil {
		return nil, nil, err
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			if g, err = user.LookupGroupId(group); err != nil {
				return nil, nil, fmt.Errorf("cannot find group %q: %w", group, err)
			}
		}
		gid, _ = strconv.ParseUint(g.Gid, 10, 32)
	}
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if n, err := strconv.ParseUint(id, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, u, nil
}

func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, nil
	}
	if u, err2 := user.LookupId(name); err2 == nil {
		return u, nil
	}
	return nil, fmt.Errorf("cannot find user %q: %w", name, err)
}

// setEnv replaces or appends k=v.
func setEnv(env []string, k, v string) []string {
	out := make([]string, 0, len(env)+1)
	prefix := k + "="
	for _, kv := range env {
		if len(kv) >= len(prefix) && kv[:len(prefix)] == prefix {
			continue
		}
		out = append(out, kv)
	}
	return append(out, prefix+v)
}
