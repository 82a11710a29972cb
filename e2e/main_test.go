// Package e2e builds docker/Dockerfile with a real Docker engine and runs the
// image as a user would: docker run, stop, kill, logs, inspect, exec and
// compose, through /usr/bin/docker. Without a daemon the tests skip, saying
// so; with PHPINIT_E2E_REQUIRE=1 (CI) a missing daemon is a failure.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// image is built once by TestMain from the working tree.
const image = "phpinit:e2e"

var (
	dockerBin = "/usr/bin/docker"
	repoRoot  string
	// skipReason is why every test skips; "" when the engine answers and
	// the image was built.
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(setup(m))
}

func setup(m *testing.M) int {
	if b := os.Getenv("PHPINIT_DOCKER"); b != "" {
		dockerBin = b
	}
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = root
	required := os.Getenv("PHPINIT_E2E_REQUIRE") == "1"
	short := false
	for _, a := range os.Args {
		if a == "-test.short=true" || a == "-test.short" {
			short = true
		}
	}
	switch {
	case short:
		skipReason = "-short: no Docker engine tests"
	case !engineAnswers():
		skipReason = fmt.Sprintf("no Docker daemon answers %s info (scripts/docker-engine.sh starts one)", dockerBin)
	default:
		start := time.Now()
		before := imageID()
		if out, err := buildImage(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: cannot build %s: %v\n%s\n", image, err, out)
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", image, time.Since(start).Round(time.Second))
		// The previous build, now untagged: not left to pile up run after run.
		if before != "" && before != imageID() {
			exec.Command(dockerBin, "rmi", before).Run()
		}
	}
	if skipReason != "" {
		fmt.Fprintln(os.Stderr, "e2e: skipping:", skipReason)
		if required && !short {
			fmt.Fprintln(os.Stderr, "e2e: PHPINIT_E2E_REQUIRE=1: the engine tests must run")
			return 1
		}
	}
	return m.Run()
}

// noteBuildContext stats every file docker build sends, so that go test's
// result cache, which records the files a test opens, reruns these tests
// when the Dockerfile, a config or the source changes: the build itself
// reads them in another process, unseen.
func noteBuildContext(root string) {
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			os.Stat(path)
		}
		return nil
	})
}

// imageID is the ID of the image tagged image, or "".
func imageID() string {
	out, err := exec.Command(dockerBin, "image", "inspect", "-f", "{{.Id}}", image).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func engineAnswers() bool {
	if _, err := os.Stat(dockerBin); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, dockerBin, "info").Run() == nil
}

// buildImage builds docker/Dockerfile as the README says, with BuildKit
// (the Dockerfile uses cache mounts). The base images come from
// scripts/docker-base.sh.
func buildImage() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerBin, "build", "-q", "-f", "docker/Dockerfile",
		"--build-arg", "VERSION=e2e", "-t", image, ".")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
	out, err := cmd.CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("golang:1.26-bookworm")) {
		out = append(out, "\n(make the base images with scripts/docker-base.sh)"...)
	}
	return out, err
}

var noteOnce sync.Once

func needEngine(t *testing.T) {
	t.Helper()
	// Inside a test: go test logs file access only once m.Run has begun.
	noteOnce.Do(func() { noteBuildContext(repoRoot) })
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// docker runs the docker CLI and returns its combined output.
func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerBin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustDocker is docker that fails the test on error.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(t, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// freePort is a free TCP port on 127.0.0.1 for -p 127.0.0.1:PORT:...
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls f until it returns true or d passes; then fails with
// what f last said.
func eventually(t *testing.T, d time.Duration, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, last := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, d, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
