package hooks

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hooks run in lexical order, see the script's exports, and do not pass
// their own on. Dotfiles, non-executables and directories are skipped;
// symlinks and files without #! run.
func TestDirOrderAndEnv(t *testing.T) {
	dir := t.TempDir()
	initd := filepath.Join(dir, "init.d")
	if err := os.Mkdir(initd, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	hook := "#!/bin/sh\necho \"$(basename \"$0\") A=$A B=${B-unset}\" >>" + log + "\nexport B=1\n"
	writeFile(t, filepath.Join(initd, "20-b"), 0o755, hook)
	writeFile(t, filepath.Join(initd, "10-a"), 0o755, hook)
	writeFile(t, filepath.Join(initd, "15-noexec"), 0o644, hook)
	writeFile(t, filepath.Join(initd, ".30-hidden"), 0o755, hook)
	writeFile(t, filepath.Join(initd, "40-noshebang"), 0o755, "echo \"noshebang A=$A\" >>"+log+"\n")
	target := writeFile(t, filepath.Join(dir, "target"), 0o755, hook)
	if err := os.Symlink(target, filepath.Join(initd, "30-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(initd, "25-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := writeFile(t, filepath.Join(dir, "script.sh"), 0o644, "export A=fromscript\n")

	res, err := Run(t.Context(), Options{Script: script, Dir: initd, Env: baseEnv()})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(log)
	want := "10-a A=fromscript B=unset\n20-b A=fromscript B=unset\n" +
		"30-link A=fromscript B=unset\nnoshebang A=fromscript\n"
	if string(got) != want {
		t.Errorf("log =\n%s\nwant\n%s", got, want)
	}
	var ran []string
	for _, d := range res.Durations {
		ran = append(ran, filepath.Base(d.Hook))
	}
	if w := []string{"script.sh", "10-a", "20-b", "30-link", "40-noshebang"}; !slices.Equal(ran, w) {
		t.Errorf("Durations for %q, want %q", ran, w)
	}
}

func TestDirOnError(t *testing.T) {
	initd := t.TempDir()
	marker := filepath.Join(t.TempDir(), "ran")
	fail := writeFile(t, filepath.Join(initd, "10-fail"), 0o755, "#!/bin/sh\nexit 5\n")
	writeFile(t, filepath.Join(initd, "20-next"), 0o755, "#!/bin/sh\ntouch "+marker+"\n")

	_, err := Run(t.Context(), Options{Dir: initd, Env: baseEnv()})
	var he *Error
	if !errors.As(err, &he) || he.Code != 5 || he.Hook != fail {
		t.Fatalf("abort: err = %v, want *Error code 5", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("abort: next hook ran")
	}

	var logs recorder
	res, err := Run(t.Context(), Options{Dir: initd, Env: baseEnv(), OnError: "continue",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("continue: err = %v", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("continue: next hook did not run")
	}
	if len(res.Durations) != 2 || !errors.As(res.Durations[0].Err, &he) || res.Durations[1].Err != nil {
		t.Errorf("Durations = %+v", res.Durations)
	}
	if !strings.Contains(strings.Join(logs.Writes(), ""), "level=WARN msg=\"hook failed; continuing\"") {
		t.Errorf("logs = %q", logs.Writes())
	}
}

// A failing script under on_error continue leaves the base environment.
func TestScriptFailureContinue(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, filepath.Join(dir, "script.sh"), 0o644, "export A=1\nexit 3\n")
	res, err := Run(t.Context(), Options{Script: script, Env: baseEnv(), OnError: "continue"})
	if err != nil || !slices.Equal(res.Env, baseEnv()) || len(res.Exported) != 0 {
		t.Errorf("err = %v, Env = %q, Exported = %q", err, res.Env, res.Exported)
	}
}

// Every line arrives whole in one Write, from both streams into one writer,
// including a 2 MiB line without a newline at the end.
func TestOutputLines(t *testing.T) {
	initd := t.TempDir()
	writeFile(t, filepath.Join(initd, "10-out"), 0o755, `#!/bin/sh
for i in 1 2 3 4 5; do echo "out $i"; echo "err $i" >&2; done
head -c 100000 /dev/zero | tr '\0' y; echo
echo
head -c 2097152 /dev/zero | tr '\0' x
`)
	var w recorder
	if _, err := Run(t.Context(), Options{Dir: initd, Env: baseEnv(), Stdout: &w, Stderr: &w}); err != nil {
		t.Fatal(err)
	}
	var out, errs []string
	for _, line := range w.Writes() {
		if strings.HasPrefix(line, "err") {
			errs = append(errs, line)
		} else {
			out = append(out, line)
		}
	}
	wantErr := []string{"err 1\n", "err 2\n", "err 3\n", "err 4\n", "err 5\n"}
	wantOut := []string{"out 1\n", "out 2\n", "out 3\n", "out 4\n", "out 5\n",
		strings.Repeat("y", 100000) + "\n", "\n", strings.Repeat("x", 2<<20) + "\n"}
	if !slices.Equal(errs, wantErr) {
		t.Errorf("stderr writes = %q", errs)
	}
	if len(out) != len(wantOut) {
		t.Fatalf("%d stdout writes, want %d", len(out), len(wantOut))
	}
	for i := range out {
		if out[i] != wantOut[i] {
			t.Errorf("stdout write %d: %d bytes %.20q, want %d bytes %.20q", i, len(out[i]), out[i], len(wantOut[i]), wantOut[i])
		}
	}
}

func TestCancelKillsHook(t *testing.T) {
	initd := t.TempDir()
	pidfile := filepath.Join(t.TempDir(), "pid")
	hook := writeFile(t, filepath.Join(initd, "10-hang"), 0o755,
		"#!/bin/sh\nsleep 100 &\necho $! >"+pidfile+"\necho ready\nwait\n")
	var w recorder
	ready := w.awaiting("ready\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-ready
		cancel()
	}()
	res, err := Run(ctx, Options{Dir: initd, Env: baseEnv(), Stdout: &w})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var he *Error
	if errors.As(err, &he) {
		t.Errorf("interruption reported as hook failure: %v", err)
	}
	if len(res.Durations) != 1 || res.Durations[0].Hook != hook {
		t.Errorf("Durations = %+v", res.Durations)
	}
	waitGone(t, readPid(t, pidfile))
}

// A hook that leaves a child holding its stdout does not hold us up beyond
// lingerTimeout; the child's later output still arrives.
func TestLingeringChild(t *testing.T) {
	initd := t.TempDir()
	dir := t.TempDir()
	pidfile, gofile := filepath.Join(dir, "pid"), filepath.Join(dir, "go")
	writeFile(t, filepath.Join(initd, "10-daemon"), 0o755, "#!/bin/sh\n"+
		"(while [ ! -e "+gofile+" ]; do sleep 0.05; done; echo late; exec sleep 100) &\n"+
		"echo $! >"+pidfile+"\n")
	var w, logs recorder
	late := w.awaiting("late\n")
	start := time.Now()
	_, err := Run(t.Context(), Options{Dir: initd, Env: baseEnv(), Stdout: &w,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, pidfile)
	defer func() { _ = syscall.Kill(pid, syscall.SIGKILL) }()
	if d := time.Since(start); d < lingerTimeout || d > lingerTimeout+3*time.Second {
		t.Errorf("Run took %s", d)
	}
	if !strings.Contains(strings.Join(logs.Writes(), ""), "level=WARN") {
		t.Errorf("no warning: %q", logs.Writes())
	}
	writeFile(t, gofile, 0o644, "")
	select {
	case <-late:
	case <-time.After(10 * time.Second):
		t.Error("output after Run was not forwarded")
	}
}

func TestDirHookCannotStart(t *testing.T) {
	initd := t.TempDir()
	hook := writeFile(t, filepath.Join(initd, "10-bad"), 0o755, "#!/nonexistent/interpreter\n")
	res, err := Run(t.Context(), Options{Dir: initd, Env: baseEnv()})
	var he *Error
	if !errors.As(err, &he) || he.Code != 127 || he.Hook != hook {
		t.Fatalf("err = %v, want *Error code 127", err)
	}
	if len(res.Durations) != 1 || !errors.As(res.Durations[0].Err, &he) {
		t.Errorf("Durations = %+v", res.Durations)
	}
}
