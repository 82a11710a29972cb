package app

import (
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/supervisor"
)

func heldConfig(dir string, progs map[string][]string) *config.Config {
	cfg := &config.Config{Programs: map[string]*config.Program{}}
	cfg.Control.Socket = filepath.Join(dir, "phpinit.sock")
	for name, addrs := range progs {
		p := &config.Program{Name: name, Command: []string{"true"}}
		for _, a := range addrs {
			p.Sockets = append(p.Sockets, config.Socket{Address: a})
		}
		cfg.Programs[name] = p
	}
	return cfg
}

func accepts(t *testing.T, path string) bool {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// A reload keeps unchanged sockets (same files), binds a new program's,
// closes a removed program's, and refuses to change a staying program's.
func TestHeldAcrossReloads(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b, c := "unix://"+dir+"/a.sock", "unix://"+dir+"/b.sock", "unix://"+dir+"/c.sock"
	h, err := bindHeld(heldConfig(dir, map[string][]string{"fpm": {a}, "old": {b}, "plain": nil}), log)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	fpm := h.progs["fpm"]
	if !accepts(t, dir+"/a.sock") || !accepts(t, dir+"/b.sock") {
		t.Fatal("the held sockets do not accept")
	}

	for name, progs := range map[string]map[string][]string{
		"changed address":              {"fpm": {c}, "plain": nil},
		"sockets added to a program":   {"fpm": {a}, "plain": {c}},
		"sockets taken from a program": {"fpm": nil, "plain": nil},
	} {
		if _, err := h.prepare(heldConfig(dir, progs)); err == nil || !strings.Contains(err.Error(), "restart phpinit") {
			t.Errorf("%s: prepare = %v, want a refusal", name, err)
		}
	}
	if _, err := os.Lstat(dir + "/c.sock"); err == nil {
		t.Fatal("a refused reload left c.sock bound")
	}

	u, err := h.prepare(heldConfig(dir, map[string][]string{"fpm": {a}, "new": {c}, "plain": nil}))
	if err != nil {
		t.Fatal(err)
	}
	specs := []supervisor.ProgramSpec{{Name: "fpm"}, {Name: "new"}, {Name: "plain"}}
	u.attach(specs)
	if specs[0].Listeners == nil || specs[1].Listeners == nil || specs[2].Listeners != nil {
		t.Fatalf("listeners attached: %v %v %v", specs[0].Listeners, specs[1].Listeners, specs[2].Listeners)
	}
	u.commit()
	if h.progs["fpm"] != fpm {
		t.Fatal("unchanged sockets were bound again")
	}
	if accepts(t, dir+"/b.sock") {
		t.Fatal("the removed program's socket still accepts")
	}
	if !accepts(t, dir+"/a.sock") || !accepts(t, dir+"/c.sock") {
		t.Fatal("kept or new sockets do not accept")
	}
	fds, err := specs[0].Listeners.Files()
	if err != nil || len(fds) != 1 {
		t.Fatalf("Files = %v, %v", fds, err)
	}
	if env := specs[0].Listeners.Env; len(env) != 2 || env[0] != "FPM_SOCKETS="+dir+"/a.sock=3" || env[1] != "NGINX=3;" {
		t.Fatalf("Env = %q", env)
	}

	// php-fpm unlinks the path at a graceful exit; AfterExit puts it back.
	os.Remove(dir + "/a.sock")
	if err := specs[0].Listeners.AfterExit(); err != nil || !accepts(t, dir+"/a.sock") {
		t.Fatalf("AfterExit = %v; a.sock accepts: %v", err, accepts(t, dir+"/a.sock"))
	}
}

// Binding reports every failure and leaves nothing bound.
func TestHeldBindErrors(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	os.WriteFile(dir+"/file", nil, 0o644)
	cfg := heldConfig(dir, map[string][]string{
		"good": {"unix://" + dir + "/ok.sock"},
		"bad":  {"unix://" + dir + "/file"},
	})
	cfg.Programs["owner"] = &config.Program{Name: "owner", Command: []string{"true"},
		Sockets: []config.Socket{{Address: "unix://" + dir + "/o.sock", Owner: "no-such-user-here"}}}
	_, err := bindHeld(cfg, log)
	if err == nil {
		t.Fatal("bindHeld succeeded")
	}
	for _, want := range []string{"programs.bad.sockets", "is not a socket", "programs.owner.sockets", "no-such-user-here"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q has no %q", err, want)
		}
	}
	if _, err := os.Lstat(dir + "/ok.sock"); err == nil {
		t.Error("a failed bind left ok.sock bound")
	}
}

// As root, a runtime directory that holds a held unix socket is root's in
// the program's group, sticky, and the socket root's in that group: the
// program (not root) cannot remove the socket's path. Other runtime
// directories stay the user's.
func TestHeldSocketLayoutAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: chowns to another user; run as root")
	}
	u, err := lookupUser("nobody")
	if err != nil {
		t.Skipf("skipping: no user nobody: %v", err)
	}
	dir := t.TempDir()
	// t.TempDir is <tmp>/<test><n>/<nnn>, both 0700: nobody must get in.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shared, other := filepath.Join(dir, "run", "php"), filepath.Join(dir, "run", "other")
	cfg := heldConfig(dir, map[string][]string{"fpm": {"unix://" + filepath.Join(shared, "fpm.sock")}})
	p := cfg.Programs["fpm"]
	p.User = "nobody"
	p.RuntimeDirectory = []string{shared, other}
	h, err := bindHeld(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	owner := func(path string) (uint32, uint32, os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return st.Uid, st.Gid, fi.Mode()
	}
	uid, gid := mustAtoi(t, u.Uid), mustAtoi(t, u.Gid)
	if o, g, m := owner(shared); o != 0 || g != gid || m != os.ModeDir|os.ModeSticky|0o775 {
		t.Errorf("%s: %d:%d %v, want 0:%d drwxrwxr-t", shared, o, g, m, gid)
	}
	if o, g, m := owner(other); o != uid || g != gid || m.Perm() != 0o755 || m&os.ModeSticky != 0 {
		t.Errorf("%s: %d:%d %v, want %d:%d drwxr-xr-x", other, o, g, m, uid, gid)
	}
	sock := filepath.Join(shared, "fpm.sock")
	if o, g, m := owner(sock); o != 0 || g != gid || m.Perm() != 0o660 {
		t.Errorf("%s: %d:%d %v, want 0:%d 0660", sock, o, g, m, gid)
	}
	// What php-fpm as nobody gets at its exit.
	rm := exec.Command("rm", "-f", sock)
	rm.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	out, err := rm.CombinedOutput()
	if err == nil {
		t.Errorf("nobody removed the held socket's path:\n%s", out)
	} else if !strings.Contains(string(out), "Operation not permitted") {
		t.Errorf("rm as nobody failed, but not for the sticky bit (EPERM): %v\n%s", err, out)
	}
	if !accepts(t, sock) {
		t.Error("the held socket does not accept at its path")
	}
}

func mustAtoi(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}
