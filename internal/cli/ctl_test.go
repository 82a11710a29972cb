package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/supervisor"
)

// ctlFake is the supervisor behind the test server.
type ctlFake struct {
	mu    sync.Mutex
	calls []string
	err   error
	snap  *supervisor.Snapshot
}

func (f *ctlFake) Snapshot() *supervisor.Snapshot { return f.snap }

func (f *ctlFake) op(call, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if name != "all" && name != "nginx" && name != "php-fpm" {
		return fmt.Errorf("%w: %q", supervisor.ErrUnknownProgram, name)
	}
	return f.err
}

func (f *ctlFake) Start(_ context.Context, name string) error   { return f.op("start "+name, name) }
func (f *ctlFake) Stop(_ context.Context, name string) error    { return f.op("stop "+name, name) }
func (f *ctlFake) Restart(_ context.Context, name string) error { return f.op("restart "+name, name) }
func (f *ctlFake) Reload(_ context.Context, name string) error  { return f.op("reload "+name, name) }
func (f *ctlFake) Signal(_ context.Context, name string, sig syscall.Signal) error {
	return f.op(fmt.Sprintf("signal %s %d", name, int(sig)), name)
}

func (f *ctlFake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *ctlFake) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// ctlDir is short: sun_path holds 108 bytes (unix(7)).
func ctlDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// serveCtl starts the control server over a fake and returns its socket.
func serveCtl(t *testing.T) (string, *ctlFake) {
	t.Helper()
	now := time.Now()
	fake := &ctlFake{snap: &supervisor.Snapshot{Time: now, Programs: []supervisor.ProgramStatus{
		{Name: "php-fpm", State: "RUNNING", PID: 41, Started: now.Add(-time.Minute)},
		{Name: "nginx", State: "BACKOFF", Restarts: 3},
	}}}
	socket := filepath.Join(ctlDir(t), "phpinit.sock")
	logger := slog.New(slog.DiscardHandler)
	l, err := control.Listen(socket, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := control.Serve(l, fake, logger)
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return socket, fake
}

func runCtl(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Run(append([]string{"ctl"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCtlExitStatuses(t *testing.T) {
	socket, fake := serveCtl(t)
	missing := filepath.Join(ctlDir(t), "none.sock")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"start", []string{"--socket", socket, "start", "nginx"}, 0, "nginx: started\n", ""},
		{"stop all, flag after verb", []string{"stop", "all", "--socket", socket}, 0, "all: stopped\n", ""},
		{"restart", []string{"--socket", socket, "restart", "php-fpm"}, 0, "php-fpm: restarted\n", ""},
		{"reload all", []string{"--socket", socket, "reload"}, 0, "all: reloaded\n", ""},
		{"reload one", []string{"--socket", socket, "reload", "nginx"}, 0, "nginx: reloaded\n", ""},
		{"signal", []string{"--socket", socket, "signal", "usr1", "all"}, 0, "all: signalled usr1\n", ""},
		{"unknown program", []string{"--socket", socket, "start", "foo"}, 1, "", "phpinit: unknown program \"foo\"\n"},
		{"signal unknown program", []string{"--socket", socket, "signal", "HUP", "foo"}, 1, "", "phpinit: unknown program \"foo\"\n"},
		{"no verb", []string{"--socket", socket}, 2, "", "phpinit: missing verb: status, start, stop, restart, reload or signal (see phpinit ctl --help)\n"},
		{"unknown verb", []string{"--socket", socket, "frob"}, 2, "", "phpinit: unknown command \"frob\" for \"phpinit ctl\"\n"},
		{"start without name", []string{"--socket", socket, "start"}, 2, "", "phpinit: usage: phpinit ctl start NAME|all\n"},
		{"stop two names", []string{"--socket", socket, "stop", "a", "b"}, 2, "", "phpinit: usage: phpinit ctl stop NAME|all\n"},
		{"reload two names", []string{"--socket", socket, "reload", "a", "b"}, 2, "", "phpinit: usage: phpinit ctl reload [NAME|all]\n"},
		{"status of one", []string{"--socket", socket, "status", "nginx"}, 0, "nginx  BACKOFF  pid -  uptime -  restarts 3  last exit -  reload -\n", ""},
		{"status of none such", []string{"--socket", socket, "status", "ngnix"}, 1, "", "phpinit: unknown program \"ngnix\" (programs: nginx, php-fpm)\n"},
		{"status with args", []string{"--socket", socket, "status", "nginx", "php"}, 2, "", "phpinit: usage: phpinit ctl status [--json] [NAME]\n"},
		{"signal without name", []string{"--socket", socket, "signal", "HUP"}, 2, "", "phpinit: usage: phpinit ctl signal SIG NAME|all\n"},
		{"bad signal", []string{"--socket", socket, "signal", "NOPE", "nginx"}, 2, "", "phpinit: unknown signal \"NOPE\"\n"},
		{"unknown flag", []string{"--socket", socket, "status", "--bogus"}, 2, "", "phpinit: unknown flag: --bogus\n"},
		{"no socket", []string{"--socket", missing, "status"}, 3, "", "phpinit: cannot reach phpinit at " + missing + ": no such file (is phpinit running?)\n"},
		{"no socket, start", []string{"--socket", missing, "start", "nginx"}, 3, "", "phpinit: cannot reach phpinit at " + missing + ": no such file (is phpinit running?)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCtl(tt.args...)
			if code != tt.code || stdout != tt.stdout || stderr != tt.stderr {
				t.Errorf("ctl %q\n= %d, stdout %q, stderr %q\nwant %d, stdout %q, stderr %q",
					tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
	want := []string{"start nginx", "stop all", "restart php-fpm", "reload all", "reload nginx",
		"signal all 10", "start foo", "signal foo 1"}
	if got := fake.Calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

func TestCtlOperationFailed(t *testing.T) {
	socket, fake := serveCtl(t)
	fake.fail(errors.New("nginx: check failed: exit status 1\nnginx: [emerg] unexpected \"}\" in /etc/nginx/nginx.conf:12"))
	code, stdout, stderr := runCtl("--socket", socket, "reload", "nginx")
	want := "phpinit: nginx: check failed: exit status 1\nnginx: [emerg] unexpected \"}\" in /etc/nginx/nginx.conf:12\n"
	if code != ExitFailed || stdout != "" || stderr != want {
		t.Errorf("= %d %q %q, want 1 and the check's output", code, stdout, stderr)
	}
	fake.fail(supervisor.ErrNotRunning)
	if code, _, stderr := runCtl("--socket", socket, "start", "all"); code != ExitFailed ||
		stderr != "phpinit: phpinit is not running\n" {
		t.Errorf("not running: = %d %q", code, stderr)
	}
}

func TestCtlConnectionRefused(t *testing.T) {
	socket := filepath.Join(ctlDir(t), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	_ = l.Close()
	code, _, stderr := runCtl("--socket", socket, "stop", "nginx")
	want := "phpinit: cannot reach phpinit at " + socket + ": connection refused (is phpinit running?)\n"
	if code != ExitUnreachable || stderr != want {
		t.Errorf("= %d %q, want 3 %q", code, stderr, want)
	}
}

func TestCtlStatus(t *testing.T) {
	socket, fake := serveCtl(t)
	code, stdout, stderr := runCtl("--socket", socket, "status")
	if code != 0 || stderr != "" {
		t.Fatalf("= %d %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per program, got:\n%s", stdout)
	}
	for i, want := range [][]string{{"php-fpm", "RUNNING", "pid", "41", "uptime"}, {"nginx", "BACKOFF", "pid", "-", "uptime", "-", "restarts", "3"}} {
		if f := strings.Fields(lines[i]); strings.Join(f[:len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("line %d = %q, want fields %q", i, lines[i], want)
		}
	}

	code, stdout, _ = runCtl("--socket", socket, "status", "--json")
	var sn supervisor.Snapshot
	if code != 0 || json.Unmarshal([]byte(stdout), &sn) != nil || len(sn.Programs) != 2 ||
		sn.Programs[1].Restarts != fake.snap.Programs[1].Restarts {
		t.Errorf("status --json = %d %q", code, stdout)
	}
}

func TestCtlSocketFromConfig(t *testing.T) {
	socket, _ := serveCtl(t)
	cfg := filepath.Join(ctlDir(t), "phpinit.yaml")
	if err := os.WriteFile(cfg, []byte("control:\n  socket: "+socket+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCtl("--config", cfg, "status"); code != 0 {
		t.Errorf("--config: = %d %q", code, stderr)
	}
	t.Setenv("PHPINIT_CONFIG", cfg)
	if code, _, stderr := runCtl("status"); code != 0 {
		t.Errorf("$PHPINIT_CONFIG: = %d %q", code, stderr)
	}
}

func TestWriteStatusGolden(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	sn := &supervisor.Snapshot{Time: now, Programs: []supervisor.ProgramStatus{
		{Name: "php-fpm", State: "RUNNING", PID: 1234, Started: now.Add(-26*time.Hour - 65*time.Second), Restarts: 2,
			LastExit:   &supervisor.ExitInfo{Code: 137, Desc: "signal SIGKILL", Time: now.Add(-26 * time.Hour)},
			LastReload: &supervisor.ReloadInfo{Result: "check_failed", Error: "php-fpm: check failed", Time: now.Add(-184 * time.Second)}},
		{Name: "nginx", State: "RUNNING", PID: 42, Started: now.Add(-192 * time.Second),
			LastReload: &supervisor.ReloadInfo{Result: "ok", Time: now.Add(-12 * time.Second)}},
		{Name: "queue-worker", State: "FATAL", Restarts: 5,
			LastExit: &supervisor.ExitInfo{Code: 1, Desc: "exit status 1", Time: now.Add(-5 * time.Second)}},
		{Name: "cron", State: "STOPPED"},
		{Name: "mailer", State: "EXITED", Restarts: 7,
			LastExit: &supervisor.ExitInfo{Code: 127, Desc: "fork/exec /opt/mailer/bin/mailer-daemon-with-a-long-name: no such file or directory", Time: now.Add(-90 * time.Second)}},
		{Name: "app", State: "BACKOFF", Restarts: 1,
			LastExit: &supervisor.ExitInfo{Code: 127, Desc: "fork/exec /usr/bin/app:\tno such\nfile", Time: now.Add(-3 * 24 * time.Hour)}},
	}}
	var b bytes.Buffer
	if err := writeStatus(&b, sn, now); err != nil {
		t.Fatal(err)
	}
	const golden = `php-fpm       RUNNING  pid 1234  uptime 26:01:05  restarts 2  last exit 137 (signal SIGKILL) 1d2h ago                             reload check_failed 3m4s ago
nginx         RUNNING  pid 42    uptime 0:03:12   restarts 0  last exit -                                                         reload ok 12s ago
queue-worker  FATAL    pid -     uptime -         restarts 5  last exit 1 5s ago                                                  reload -
cron          STOPPED  pid -     uptime -         restarts 0  last exit -                                                         reload -
mailer        EXITED   pid -     uptime -         restarts 7  last exit 127 (fork/exec /opt/mailer/bin/mailer-daemon…) 1m30s ago  reload -
app           BACKOFF  pid -     uptime -         restarts 1  last exit 127 (fork/exec /usr/bin/app: no such file) 3d0h ago       reload -
`
	if b.String() != golden {
		t.Errorf("status table:\n%s\nwant:\n%s", b.String(), golden)
	}
}

func TestCtlForbiddenIsUnreachable(t *testing.T) {
	// What a peer that is neither root nor phpinit's user gets; the control
	// package's tests produce it for real with a client running as nobody.
	socket := filepath.Join(ctlDir(t), "phpinit.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error":"forbidden: only root and uid 0 may use the control socket","kind":"forbidden"}`)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	code, _, stderr := runCtl("--socket", socket, "status")
	want := "phpinit: cannot reach phpinit at " + socket + ": forbidden: only root and uid 0 may use the control socket\n"
	if code != ExitUnreachable || stderr != want {
		t.Errorf("= %d %q, want 3 %q", code, stderr, want)
	}
}

func TestCtlSocketDisabled(t *testing.T) {
	cfg := filepath.Join(ctlDir(t), "phpinit.yaml")
	if err := os.WriteFile(cfg, []byte("control:\n  socket: \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCtl("--config", cfg, "status")
	want := "phpinit: cannot reach phpinit: the control socket is disabled (control.socket is empty in " + cfg + ")\n"
	if code != ExitUnreachable || stderr != want {
		t.Errorf("= %d %q, want 3 %q", code, stderr, want)
	}
}
