package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSupervisordFileAsPID1: a [program:x] file in the supervisord include
// directory with numprocs=3 runs worker_00..02, each with its PROCESS_NUM,
// and a crashing program from such a file (not critical by default) goes
// FATAL without stopping phpinit.
func TestSupervisordFileAsPID1(t *testing.T) {
	needStack(t)
	st := newSite(t, site{NoStack: true, ExtraYAML: "supervisord: {include: [supervisord/*.conf]}"})
	if err := os.MkdirAll(st.path("supervisord"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := `[program:worker]
command=sh -c 'echo "worker %(process_num)d has PROCESS_NUM=$PROCESS_NUM"; exec sleep 1000'
numprocs=3
process_name=%(program_name)s_%(process_num)02d
stdout_logfile=/dev/stdout
autorestart=true

[program:crasher]
command=sh -c 'exit 3'
startretries=1
bogus_key=1
`
	if err := os.WriteFile(st.path("supervisord/worker.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPID1(t, "run", "--config", st.config())
	for n := range 3 {
		p.waitOutput(fmt.Sprintf("worker %d has PROCESS_NUM=%d", n, n), 30*time.Second)
	}
	p.waitOutput("gave up", 30*time.Second)
	p.waitOutput(`msg="supervisord file: unknown key ignored" at=`+st.path("supervisord/worker.conf")+":11 program=crasher key=bogus_key", 5*time.Second)
	want := map[string]string{"worker_00": "RUNNING", "worker_01": "RUNNING", "worker_02": "RUNNING", "crasher": "FATAL"}
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var code int
		if out, code = runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "status"); code != 0 {
			t.Fatalf("ctl status: exit %d: %s", code, out)
		}
		if statusIs(out, want) {
			break
		}
	}
	if !statusIs(out, want) {
		t.Fatalf("status is not %v:\n%s", want, out)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// statusIs reports whether `ctl status` output shows each program in its state.
func statusIs(status string, want map[string]string) bool {
	got := map[string]string{}
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			got[f[0]] = f[1]
		}
	}
	for name, state := range want {
		if got[name] != state {
			return false
		}
	}
	return true
}

// TestCheckSupervisordFile: the binary's `phpinit check` names the
// supervisord file and line.
func TestCheckSupervisordFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	yml := filepath.Join(dir, "phpinit.yaml")
	os.WriteFile(bad, []byte("[program:w]\ncommand=w\nstartsecs=soon\n"), 0o644)
	os.WriteFile(yml, []byte("supervisord: {include: ['*.conf']}\n"), 0o644)
	out, code := runPhpinit(t, "check", "--offline", "--config", yml)
	if code != 1 || !strings.Contains(out, bad+`:3: [program:w] startsecs: "soon" is not an integer`) {
		t.Errorf("check: exit %d, output:\n%s", code, out)
	}
}

// TestSupervisordNumprocsReload: raising numprocs in a supervisord file
// then a config reload (here: an edit of phpinit.yaml, which is watched)
// starts only the new copy; the running ones keep their pid.
func TestSupervisordNumprocsReload(t *testing.T) {
	needStack(t)
	st := newSite(t, site{NoStack: true, ExtraYAML: "supervisord: {include: [supervisord/*.conf]}"})
	if err := os.MkdirAll(st.path("supervisord"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := func(n int) {
		body := fmt.Sprintf("[program:worker]\ncommand=sleep 1000\nnumprocs=%d\nprocess_name=%%(program_name)s_%%(process_num)02d\nstartsecs=0\n", n)
		if err := os.WriteFile(st.path("supervisord/worker.conf"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf(2)
	p := startPID1(t, "run", "--config", st.config())
	before := waitStatus(t, st, map[string]string{"worker_00": "RUNNING", "worker_01": "RUNNING"})
	conf(3)
	f, err := os.OpenFile(st.config(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("# edited\n")
	f.Close()
	p.waitOutput(`msg="config reloaded" added=[worker_02] removed=[] changed=[]`, 30*time.Second)
	after := waitStatus(t, st, map[string]string{"worker_00": "RUNNING", "worker_01": "RUNNING", "worker_02": "RUNNING"})
	for _, name := range []string{"worker_00", "worker_01"} {
		if before[name] != after[name] {
			t.Errorf("%s restarted by the reload: pid %s, then %s", name, before[name], after[name])
		}
	}
	p.signal(syscall.SIGTERM)
	p.wait(30 * time.Second)
}

// waitStatus polls `ctl status` until each program is in its state and
// returns each program's pid field.
func waitStatus(t *testing.T, st *site, want map[string]string) map[string]string {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, _ = runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "status")
		if statusIs(out, want) {
			pids := map[string]string{}
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) >= 4 {
					pids[f[0]] = f[3]
				}
			}
			return pids
		}
	}
	t.Fatalf("status is not %v:\n%s", want, out)
	return nil
}

// TestSupervisordStopAsGroup: stopasgroup=true (Laravel's queue:work
// example sets it) sends the stop signal to the program's whole group, so
// a shell's child gets TERM and finishes; without it only the shell gets
// TERM and the child is killed with the rest of the group.
func TestSupervisordStopAsGroup(t *testing.T) {
	needStack(t)
	st := newSite(t, site{NoStack: true, ExtraYAML: "supervisord: {include: [supervisord/*.conf]}"})
	if err := os.MkdirAll(st.path("supervisord"), 0o755); err != nil {
		t.Fatal(err)
	}
	prog := func(name, extra string) string {
		return fmt.Sprintf(`[program:%[1]s]
command=sh -c 'sh -c "trap \"echo child of %[1]s got TERM; exit 0\" TERM; echo child of %[1]s up; while :; do sleep 0.1; done" & wait'
stdout_logfile=/dev/stdout
startsecs=0
%[2]s
`, name, extra)
	}
	conf := prog("grouped", "stopasgroup=true\nkillasgroup=true\nstopwaitsecs=5") + "\n" + prog("plain", "")
	if err := os.WriteFile(st.path("supervisord/workers.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPID1(t, "run", "--config", st.config())
	p.waitOutput("child of grouped up", 30*time.Second)
	p.waitOutput("child of plain up", 30*time.Second)
	waitStatus(t, st, map[string]string{"grouped": "RUNNING", "plain": "RUNNING"})
	for _, name := range []string{"plain", "grouped"} {
		if out, code := runPhpinit(t, "ctl", "--socket", st.path("run/phpinit.sock"), "stop", name); code != 0 {
			t.Fatalf("ctl stop %s: exit %d: %s", name, code, out)
		}
	}
	p.waitOutput("child of grouped got TERM", 30*time.Second)
	// plain was stopped first: its child, had it got TERM, would have
	// said so before grouped's did.
	if strings.Contains(p.Out.String(), "child of plain got TERM") {
		t.Error("without stopasgroup the shell's child got the stop signal")
	}
	p.waitOutput(fmt.Sprintf("msg=stopping program=grouped pid="), 5*time.Second)
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// TestSupervisordDiscard: stdout_logfile=NONE gives the program /dev/null
// (logged at start as a notice), while its stderr still reaches phpinit's.
func TestSupervisordDiscard(t *testing.T) {
	needStack(t)
	st := newSite(t, site{NoStack: true, ExtraYAML: "supervisord: {include: [supervisord/*.conf]}"})
	if err := os.MkdirAll(st.path("supervisord"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "[program:quiet]\ncommand=sh -c 'echo out-is-discarded; echo err-is-kept >&2; exec sleep 1000'\nstdout_logfile=NONE\nstderr_logfile=/dev/stderr\n"
	if err := os.WriteFile(st.path("supervisord/quiet.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPID1(t, "run", "--config", st.config())
	p.waitOutput("err-is-kept", 30*time.Second)
	p.waitOutput("NONE becomes discard", 5*time.Second)
	p.signal(syscall.SIGTERM)
	if code := p.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if strings.Contains(p.Out.String(), "out-is-discarded") {
		t.Error("stdout_logfile=NONE: the program's stdout reached phpinit's")
	}
}
