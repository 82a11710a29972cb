package app

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/hashicorp/go-multierror"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/sockets"
	"github.com/phpinit/phpinit/supervisor"
)

// defaultSocketDir is where unix sockets are bound when there is no control
// socket to put them beside.
const defaultSocketDir = "/run/phpinit/sockets"

// held is every program's held listening sockets (the `sockets` key), bound
// once before the first program starts and kept for phpinit's whole run.
// A config reload keeps a program's sockets when they are unchanged, binds
// those of a new program, closes those of a removed one, and refuses to
// change the sockets of a program that stays: its sockets are only bound
// again by a restart of phpinit (see README, "Restarts without failed
// requests"). Only manage (and New, before it) calls its methods.
type held struct {
	dir string
	log *slog.Logger
	// progs are the programs with sockets; names every program of the
	// running config.
	progs map[string]*heldProgram
	names map[string]bool
}

// heldProgram is one program's socket set. The supervisor's loop uses it
// (Files, Relink) while manage may close it: mu orders them.
type heldProgram struct {
	specs []sockets.Spec
	env   []string
	log   *slog.Logger

	mu  sync.Mutex
	set *sockets.Set
}

// socketDir is where held unix sockets are bound privately: beside the
// control socket (phpinit's runtime directory).
func socketDir(cfg *config.Config) string {
	if cfg.Control.Socket == "" {
		return defaultSocketDir
	}
	return filepath.Join(filepath.Dir(cfg.Control.Socket), "sockets")
}

// bindHeld binds every program's sockets, reporting every error at once;
// on an error nothing stays bound.
func bindHeld(cfg *config.Config, log *slog.Logger) (*held, error) {
	h := &held{dir: socketDir(cfg), log: log, progs: map[string]*heldProgram{}, names: programNames(cfg)}
	var errs *multierror.Error
	for _, name := range cfg.Order() {
		hp, err := h.bind(name, cfg.Programs[name])
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		if hp != nil {
			h.progs[name] = hp
		}
	}
	if err := errs.ErrorOrNil(); err != nil {
		h.close()
		return nil, err
	}
	return h, nil
}

// bind binds one program's sockets; nil when it has none.
func (h *held) bind(name string, p *config.Program) (*heldProgram, error) {
	specs, err := socketSpecs(p)
	if err != nil {
		return nil, fmt.Errorf("programs.%s.sockets: %w", name, err)
	}
	if len(specs) == 0 {
		return nil, nil
	}
	if err := runtimeDirs(p, specs); err != nil {
		return nil, fmt.Errorf("programs.%s.runtime_directory: %w", name, err)
	}
	set, err := sockets.Bind(h.dir, specs)
	if err != nil {
		return nil, fmt.Errorf("programs.%s.sockets: %w", name, err)
	}
	hp := &heldProgram{specs: specs, env: set.Env(3), set: set, log: h.log.With("program", name)}
	if err := set.Guard(hp.guarded); err != nil {
		// Relink after each exit still puts a path back, later.
		hp.log.Warn("socket paths unlinked at a stop are put back only after the exit", "err", err)
	}
	hp.log.Info("holding sockets", "sockets", set.Keys())
	return hp, nil
}

// listeners is what the supervisor passes to each start of the program.
func (hp *heldProgram) listeners() *supervisor.Listeners {
	return &supervisor.Listeners{Files: hp.files, Env: hp.env, BeforeStop: hp.stopping, AfterExit: hp.relink}
}

// stopping arms the guard: the program is about to be stopped, and a
// socket path it unlinks at its exit is linked back at once.
func (hp *heldProgram) stopping() {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.set != nil {
		hp.set.Stopping(true)
	}
}

func (hp *heldProgram) files() ([]uintptr, error) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.set == nil {
		return nil, fmt.Errorf("cannot pass sockets: they are closed")
	}
	files, err := hp.set.Files()
	fds := make([]uintptr, len(files))
	for i, f := range files {
		// Not made blocking: the file was opened blocking, so Fd leaves
		// the flag as Files set it.
		fds[i] = f.Fd()
	}
	return fds, err
}

func (hp *heldProgram) relink() error {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.set == nil {
		return nil
	}
	back, err := hp.set.Relink()
	hp.set.Stopping(false)
	if len(back) > 0 {
		hp.log.Info("socket path restored", "paths", back)
	}
	return err
}

// guarded reports the guard's relinks, from its goroutine.
func (hp *heldProgram) guarded(back []string, err error) {
	if len(back) > 0 {
		hp.log.Info("socket path restored at once", "paths", back)
	}
	if err != nil {
		hp.log.Error("cannot restore the held sockets", "err", err)
	}
}

func (hp *heldProgram) close() error {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.set == nil {
		return nil
	}
	err := hp.set.Close()
	hp.set = nil
	return err
}

// attach sets each spec's Listeners from the held sockets.
func (h *held) attach(specs []supervisor.ProgramSpec) {
	for i := range specs {
		if hp := h.progs[specs[i].Name]; hp != nil {
			specs[i].Listeners = hp.listeners()
		}
	}
}

// heldUpdate is a reload's change of the held sockets, applied by commit
// once the supervisor took the new programs, or undone by abort.
type heldUpdate struct {
	h       *held
	next    map[string]*heldProgram
	names   map[string]bool
	bound   []*heldProgram // new programs' sockets
	removed []*heldProgram // removed programs' sockets
}

// prepare works out the held sockets for cfg: every error at once, and on
// an error nothing changes.
func (h *held) prepare(cfg *config.Config) (*heldUpdate, error) {
	u := &heldUpdate{h: h, next: map[string]*heldProgram{}, names: programNames(cfg)}
	var errs *multierror.Error
	for _, name := range cfg.Order() {
		p := cfg.Programs[name]
		old, running := h.progs[name]
		if !running {
			if h.names[name] {
				// A program that stays and had no sockets.
				specs, err := socketSpecs(p)
				if err == nil && len(specs) > 0 {
					errs = multierror.Append(errs, changedErr(name))
				}
				continue
			}
			hp, err := h.bind(name, p)
			if err != nil {
				errs = multierror.Append(errs, err)
				continue
			}
			if hp != nil {
				u.next[name] = hp
				u.bound = append(u.bound, hp)
			}
			continue
		}
		specs, err := socketSpecs(p)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("programs.%s.sockets: %w", name, err))
			continue
		}
		if !slices.Equal(specs, old.specs) {
			errs = multierror.Append(errs, changedErr(name))
			continue
		}
		u.next[name] = old
	}
	for name, hp := range h.progs {
		if _, ok := cfg.Programs[name]; !ok {
			u.removed = append(u.removed, hp)
		}
	}
	if err := errs.ErrorOrNil(); err != nil {
		u.abort()
		return nil, err
	}
	return u, nil
}

func changedErr(name string) error {
	return fmt.Errorf("programs.%s.sockets: cannot change the held sockets of a program while phpinit runs (restart phpinit to change them)", name)
}

func programNames(cfg *config.Config) map[string]bool {
	names := map[string]bool{}
	for name := range cfg.Programs {
		names[name] = true
	}
	return names
}

// attach sets each spec's Listeners from the held sockets after the update.
func (u *heldUpdate) attach(specs []supervisor.ProgramSpec) {
	(&held{progs: u.next}).attach(specs)
}

func (u *heldUpdate) commit() {
	u.h.progs, u.h.names = u.next, u.names
	for _, hp := range u.removed {
		if err := hp.close(); err != nil {
			u.h.log.Warn("cannot close held sockets", "err", err)
		}
	}
}

func (u *heldUpdate) abort() {
	for _, hp := range u.bound {
		_ = hp.close()
	}
}

// close closes every held socket (at phpinit's exit).
func (h *held) close() {
	for _, hp := range h.progs {
		if err := hp.close(); err != nil {
			h.log.Warn("cannot close held sockets", "err", err)
		}
	}
}

// socketSpecs resolves a program's sockets: the owner (default: the
// program's user when phpinit is root) and group (default: the owner's
// primary group) to ids, the mode, and O_NONBLOCK.
func socketSpecs(p *config.Program) ([]sockets.Spec, error) {
	var errs *multierror.Error
	var specs []sockets.Spec
	for i, s := range p.Sockets {
		a, err := sockets.ParseAddress(s.Address)
		if err != nil {
			errs = multierror.Append(errs, fmt.Errorf("[%d].address: %w", i, err))
			continue
		}
		sp := sockets.Spec{Address: a, UID: -1, GID: -1, Mode: os.FileMode(s.Mode), Nonblocking: s.IsNonblocking(p)}
		if a.Network == "unix" {
			if sp.UID, sp.GID, err = socketOwner(s, p); err != nil {
				errs = multierror.Append(errs, fmt.Errorf("[%d]: %w", i, err))
				continue
			}
		}
		specs = append(specs, sp)
	}
	return specs, errs.ErrorOrNil()
}

func socketOwner(s config.Socket, p *config.Program) (int, int, error) {
	uid, gid := -1, -1
	switch {
	case s.Owner != "":
		u, err := lookupUser(s.Owner)
		if err != nil {
			return 0, 0, err
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	case p.User != "" && os.Geteuid() == 0:
		// Root's, in the program's group (the one runtimeDirs gives a
		// socket's directory): the program (and its clients in that
		// group) can connect, and cannot remove it from the sticky
		// directory.
		cred, _, err := credential(p.User, p.Group)
		if err != nil {
			return 0, 0, err
		}
		uid, gid = 0, int(cred.Gid)
	}
	if s.Group != "" {
		g, err := user.LookupGroup(s.Group)
		if err != nil {
			if g, err = user.LookupGroupId(s.Group); err != nil {
				return 0, 0, fmt.Errorf("cannot find group %q: %w", s.Group, err)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// runtimeDirs creates the program's missing runtime directories, as its
// start would, before its sockets are bound in them: /run/php made by the
// bind would be root's 0755, and php-fpm running as www could not write
// its pid file there. A directory that will hold one of the program's
// held unix sockets is made root's, in the program's group, mode 1775
// (group-writable and sticky, like /tmp for one group): the program can
// create its own files there (a pid file, a socket of its own) but, since
// the held socket file is root's too (socketOwner), cannot remove it,
// which php-fpm tries at every graceful exit. Any other runtime directory
// is the program's user's, 0755. Without root (--user) every directory
// is phpinit's own.
func runtimeDirs(p *config.Program, specs []sockets.Spec) error {
	uid, gid := -1, -1
	if p.User != "" && os.Geteuid() == 0 {
		cred, _, err := credential(p.User, p.Group)
		if err != nil {
			return err
		}
		uid, gid = int(cred.Uid), int(cred.Gid)
	}
	holds := map[string]bool{}
	for _, sp := range specs {
		if sp.Address.Network == "unix" {
			holds[filepath.Dir(sp.Address.Addr)] = true
		}
	}
	for _, d := range p.RuntimeDirectory {
		if _, err := os.Stat(d); err == nil {
			continue
		}
		owner, mode := uid, os.FileMode(0o755)
		if holds[filepath.Clean(d)] && uid != -1 {
			owner, mode = 0, os.ModeSticky|0o775
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create runtime directory: %w", err)
		}
		if err := os.Lchown(d, owner, gid); err != nil {
			return fmt.Errorf("cannot create runtime directory: %w", err)
		}
		// MkdirAll's mode went through the umask, and it cannot set the
		// sticky bit.
		if err := os.Chmod(d, mode); err != nil {
			return fmt.Errorf("cannot create runtime directory: %w", err)
		}
	}
	return nil
}
