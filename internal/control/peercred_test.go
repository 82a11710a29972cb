package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv switches the test binary into a client that reports what one
// Status call got, as JSON on stdout.
const helperEnv = "PHPINIT_CONTROL_TEST_CLIENT"

// nobody is the uid and gid the helper client runs as.
const nobody = 65534

type helperResult struct {
	UID         int    `json:"uid"`
	Status      int    `json:"status"`
	Kind        Kind   `json:"kind"`
	Message     string `json:"message"`
	Unreachable string `json:"unreachable"`
}

func TestMain(m *testing.M) {
	if socket := os.Getenv(helperEnv); socket != "" {
		os.Exit(helperClient(socket))
	}
	os.Exit(m.Run())
}

func helperClient(socket string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := helperResult{UID: os.Getuid()}
	_, err := NewClient(socket).Status(ctx)
	var e *Error
	var ue *UnreachableError
	switch {
	case err == nil:
		res.Status = 200
	case errors.As(err, &e):
		res.Status, res.Kind, res.Message = e.Status, e.Kind, e.Message
	case errors.As(err, &ue):
		res.Unreachable = ue.Error()
	default:
		res.Message = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// TestPeerCredentialsRefuseOtherUsers runs a client as nobody. With the
// socket at 0600 the kernel refuses the connect; with the socket opened up
// to 0666 (never done outside this test) SO_PEERCRED still refuses it.
func TestPeerCredentialsRefuseOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another uid")
	}
	dir := shortDir(t)
	// nobody must reach both the socket and a copy of this test binary
	// (go test's build directory is private).
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	exe := copyTestBinary(t, dir)
	ts := startServerAt(t, filepath.Join(dir, "phpinit.sock"))

	res := runAsNobody(t, exe, ts.socket)
	want := "cannot reach phpinit at " + ts.socket + ": permission denied (run as root or as phpinit's user)"
	if res.UID != nobody || res.Unreachable != want {
		t.Errorf("with mode 0600: %+v, want unreachable %q", res, want)
	}

	if err := os.Chmod(ts.socket, 0o666); err != nil {
		t.Fatal(err)
	}
	res = runAsNobody(t, exe, ts.socket)
	if res.UID != nobody || res.Status != 403 || res.Kind != KindForbidden ||
		res.Message != "forbidden: only root and uid 0 may use the control socket" {
		t.Errorf("with mode 0666: %+v, want 403 forbidden", res)
	}
	if log := ts.log.String(); !strings.Contains(log, `msg="control request refused" peer_uid=65534`) {
		t.Errorf("refusal not logged with the peer's uid:\n%s", log)
	}
	// Root still gets in, on the same socket.
	stillServes(t, ts)
	if calls := ts.sup.Calls(); len(calls) != 0 {
		t.Errorf("refused requests reached the supervisor: %q", calls)
	}
}

func runAsNobody(t *testing.T, exe, socket string) helperResult {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}},
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		t.Skipf("cannot run a process as uid %d here: %v", nobody, err)
	}
	if err != nil {
		t.Fatalf("helper client: %v\n%s", err, stderr.String())
	}
	var res helperResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper client output %q: %v\n%s", out, err, stderr.String())
	}
	return res
}

func copyTestBinary(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	path := filepath.Join(dir, "control.test")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(fmt.Errorf("cannot copy the test binary: %w", err))
	}
	return path
}
