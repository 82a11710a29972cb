package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder is a goroutine-safe writer that keeps every Write separately and
// can announce a line it is waiting for.
type recorder struct {
	mu     sync.Mutex
	writes []string
	want   string
	seen   chan struct{}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	if r.seen != nil && string(p) == r.want {
		close(r.seen)
		r.seen = nil
	}
	return len(p), nil
}

func (r *recorder) Writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.writes)
}

// awaiting returns a channel closed when line (newline included) is written.
func (r *recorder) awaiting(line string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.want, r.seen = line, make(chan struct{})
	return r.seen
}

func writeFile(t *testing.T, path string, mode os.FileMode, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s: %v", name, err)
	}
	return p
}

func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "BASEVAR=base", "CHANGED=old", "KEEP=k", "PWD=/base/pwd"}
}

func envMap(env []string) map[string]string {
	_, m := parseEnv(env)
	return m
}

// waitGone waits for pid to exit (gone or a zombie nobody reaped yet):
// SIGKILL is delivered asynchronously.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d still alive", pid)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func shells(t *testing.T) map[string]string {
	return map[string]string{"bash": lookPath(t, "bash"), "sh": lookPath(t, "dash")}
}

func TestScriptExports(t *testing.T) {
	const tricky = "line1\nline2=x==y\n"
	script := `export PLAIN=1
export TRICKY='` + tricky + `'
export UNI='héllo ✓ 日本'
export CHANGED=new
NOTEXPORTED=1
unset BASEVAR
cd /
`
	for name, shell := range shells(t) {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "script.sh"), 0o644, script)
			res, err := run(t.Context(), Options{Script: path, Env: baseEnv()}, shell)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"PLAIN": "1", "TRICKY": tricky, "UNI": "héllo ✓ 日本", "CHANGED": "new"}
			if !maps.Equal(res.Exported, want) {
				t.Errorf("Exported = %q, want %q", res.Exported, want)
			}
			env := envMap(res.Env)
			for k, v := range want {
				if env[k] != v {
					t.Errorf("Env[%s] = %q, want %q", k, env[k], v)
				}
			}
			for _, k := range []string{"NOTEXPORTED", "BASEVAR", "SHLVL", "_", "OLDPWD"} {
				if v, ok := env[k]; ok {
					t.Errorf("Env has %s=%q", k, v)
				}
			}
			if env["PWD"] != "/base/pwd" || env["KEEP"] != "k" {
				t.Errorf("Env lost base values: %q", res.Env)
			}
			if len(res.Durations) != 1 || res.Durations[0].Hook != path || res.Durations[0].Err != nil {
				t.Errorf("Durations = %+v", res.Durations)
			}
		})
	}
}

// The script may use fd 3 itself and start a daemon; neither disturbs the
// capture, and Run does not wait for the daemon.
func TestScriptUsesFd3AndStartsDaemon(t *testing.T) {
	for name, shell := range shells(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pidfile := filepath.Join(dir, "pid")
			path := writeFile(t, filepath.Join(dir, "script.sh"), 0o644, `exec 3>"`+dir+`/own3"
echo mine >&3
sleep 100 </dev/null >/dev/null 2>&1 &
echo $! >`+pidfile+`
export A=1
`)
			res, err := run(t.Context(), Options{Script: path, Env: baseEnv()}, shell)
			if err != nil {
				t.Fatal(err)
			}
			pid := readPid(t, pidfile)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if got := envMap(res.Env)["A"]; got != "1" {
				t.Errorf("A = %q", got)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "own3")); string(b) != "mine\n" {
				t.Errorf("script's fd 3 got %q", b)
			}
		})
	}
}

// Without env(1), bash lists its exports itself; sh fails clearly.
func TestScriptWithoutEnv(t *testing.T) {
	empty := t.TempDir()
	path := writeFile(t, filepath.Join(t.TempDir(), "script.sh"), 0o644, "export X='a\nb=c'\n")
	base := []string{"PATH=" + empty, "KEEP=k"}

	res, err := run(t.Context(), Options{Script: path, Env: base}, lookPath(t, "bash"))
	if err != nil {
		t.Fatal(err)
	}
	if got := envMap(res.Env); got["X"] != "a\nb=c" || got["KEEP"] != "k" || got["PATH"] != empty {
		t.Errorf("Env = %q", res.Env)
	}

	// An env without -0 (old busybox) is no better than none.
	fake := t.TempDir()
	writeFile(t, filepath.Join(fake, "env"), 0o755, "#!/bin/sh\necho 'env: unrecognized option: 0' >&2\nexit 1\n")
	res, err = run(t.Context(), Options{Script: path, Env: []string{"PATH=" + fake}}, lookPath(t, "bash"))
	if err != nil || res.Exported["X"] != "a\nb=c" {
		t.Errorf("fake env: err = %v, Exported = %q", err, res.Exported)
	}

	var stderr recorder
	_, err = run(t.Context(), Options{Script: path, Env: base, Stderr: &stderr}, lookPath(t, "dash"))
	var he *Error
	if !errors.As(err, &he) || he.Code != 127 {
		t.Fatalf("err = %v, want *Error code 127", err)
	}
	if w := stderr.Writes(); len(w) != 1 || !strings.Contains(w[0], "no env on PATH") {
		t.Errorf("stderr = %q", w)
	}
}

func TestScriptFailures(t *testing.T) {
	tests := []struct {
		name, script string
		code         int
	}{
		{"exit", "export A=1\nexit 3\n", 3},
		{"kill", "kill -9 $$\n", 137},
		{"directory", "", 126},
		{"fifo", "", 126},
		{"set -e", "set -e\nfalse\nexport A=1\n", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "script.sh")
			switch tc.name {
			case "directory":
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			case "fifo":
				// Opening it to read would wait for a writer forever.
				if err := syscall.Mkfifo(path, 0o644); err != nil {
					t.Fatal(err)
				}
			default:
				writeFile(t, path, 0o644, tc.script)
			}
			res, err := Run(t.Context(), Options{Script: path, Env: baseEnv()})
			var he *Error
			if !errors.As(err, &he) || he.Code != tc.code || he.Hook != path {
				t.Fatalf("err = %#v, want *Error code %d", err, tc.code)
			}
			if tc.name == "exit" && err.Error() != "hook "+path+" failed: exit status 3" {
				t.Errorf("message = %q", err)
			}
			if !slices.Equal(res.Env, baseEnv()) || len(res.Exported) != 0 {
				t.Errorf("Env = %q, Exported = %q, want base", res.Env, res.Exported)
			}
		})
	}
}

// As with start.sh, the status of the script's last command is ignored (with
// a warning), also when bash gives up on a syntax error; and `exit 0` ends
// it early without its exports.
func TestScriptSoftEnds(t *testing.T) {
	dir := t.TempDir()
	for _, script := range []string{
		"export A=1\n[ -n \"$UNSET\" ] && echo never\n",
		"export A=1\nif then fi (\nexport B=1\n",
	} {
		var logs recorder
		path := writeFile(t, filepath.Join(dir, "last.sh"), 0o644, script)
		res, err := run(t.Context(), Options{Script: path, Env: baseEnv(),
			Logger: slog.New(slog.NewTextHandler(&logs, nil))}, lookPath(t, "bash"))
		if err != nil || !maps.Equal(res.Exported, map[string]string{"A": "1"}) {
			t.Errorf("%q: err = %v, Exported = %q", script, err, res.Exported)
		}
		if l := strings.Join(logs.Writes(), ""); !strings.Contains(l, "level=WARN") {
			t.Errorf("%q: no warning in %q", script, l)
		}
	}
	exit0 := writeFile(t, filepath.Join(dir, "exit0.sh"), 0o644, "export A=1\nexit 0\n")
	res, err := Run(t.Context(), Options{Script: exit0, Env: baseEnv()})
	if err != nil || len(res.Exported) != 0 || !slices.Equal(res.Env, baseEnv()) {
		t.Errorf("exit 0: err = %v, Exported = %q", err, res.Exported)
	}
}

func TestScriptTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	path := writeFile(t, filepath.Join(dir, "script.sh"), 0o644,
		"sleep 100 &\necho $! >"+pidfile+"\nwait\n")
	start := time.Now()
	_, err := Run(t.Context(), Options{Script: path, Env: baseEnv(), Timeout: 200 * time.Millisecond})
	var he *Error
	if !errors.As(err, &he) || he.Code != 124 || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want *Error code 124", err)
	}
	if want := "hook " + path + " timed out after 200ms"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	if _, err := os.Stat(pidfile); err != nil {
		// A loaded machine may not start the shell within 200ms.
		t.Skip("script killed before it wrote its pid file")
	}
	waitGone(t, readPid(t, pidfile))
}

func TestMissingHooksSkipped(t *testing.T) {
	dir := t.TempDir()
	o := Options{Script: filepath.Join(dir, "nope.sh"), Dir: filepath.Join(dir, "nope.d"), Env: baseEnv()}
	res, err := Run(t.Context(), o)
	if err != nil || !slices.Equal(res.Env, baseEnv()) || len(res.Durations) != 0 {
		t.Errorf("res = %+v, err = %v", res, err)
	}
	res, err = Run(t.Context(), Options{Env: baseEnv()})
	if err != nil || !slices.Equal(res.Env, baseEnv()) {
		t.Errorf("res = %+v, err = %v", res, err)
	}
}

func TestInvalidOnError(t *testing.T) {
	if _, err := Run(t.Context(), Options{OnError: "retry"}); err == nil {
		t.Error("on_error retry accepted")
	}
}
