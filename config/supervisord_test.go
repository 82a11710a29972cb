package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// loadWithSupervisord writes phpinit.yaml and supervisord files (name ->
// body) under one directory and loads offline.
func loadWithSupervisord(t *testing.T, yml string, files map[string]string) (*Config, error, string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "phpinit.yaml")
	if err := os.WriteFile(path, []byte("supervisord: {include: ['*.conf']}\n"+yml), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Options{Path: path, Offline: true})
	return c, err, dir
}

func TestSupervisordProgramsMergedAndCopied(t *testing.T) {
	c, err, dir := loadWithSupervisord(t, `
programs:
  web: {command: [web], depends_on: [worker]}
  cron: {command: [cron], schedule: "CRON_TZ=UTC */5 * * * *", autorestart: unexpected, exitcodes: [0, 3]}
`, map[string]string{"worker.conf": `[program:worker]
command=php artisan queue:work --name=%(program_name)s-%(process_num)d
numprocs=3
process_name=%(program_name)s_%(process_num)02d
stopwaitsecs=30
stdout_logfile=/var/log/worker_%(process_num)02d.log
`})
	if err != nil {
		t.Fatal(err)
	}
	names := sortedKeys(c.Programs)
	if want := []string{"cron", "web", "worker_00", "worker_01", "worker_02"}; !slices.Equal(names, want) {
		t.Fatalf("programs = %q, want %q", names, want)
	}
	w := c.Programs["worker_01"]
	if w.IsCritical() || w.ProcessGroup != "worker" || w.CopyOf != "worker" || w.ProcessNum != 1 || w.Environment["PROCESS_NUM"] != "1" ||
		w.Autorestart != "unexpected" || w.Retries() != 3 || w.StopSignal.String() != "TERM" ||
		w.Source != filepath.Join(dir, "worker.conf")+":1" {
		t.Errorf("worker_01 = %+v", w)
	}
	if got := strings.Join(w.Command, " "); got != "php artisan queue:work --name=worker-1" {
		t.Errorf("command = %q", got)
	}
	if w.Stdout != "/var/log/worker_01.log" {
		t.Errorf("stdout = %q", w.Stdout)
	}
	if !slices.Equal(c.Programs["web"].DependsOn, []string{"worker_00", "worker_01", "worker_02"}) {
		t.Errorf("web depends_on = %q", c.Programs["web"].DependsOn)
	}
	if !c.Programs["web"].IsCritical() || c.Programs["web"].ProcessGroup != "web" {
		t.Errorf("web = %+v", c.Programs["web"])
	}
	if cr := c.Programs["cron"]; cr.Schedule == "" || !slices.Equal(cr.ExitCodes, []int{0, 3}) {
		t.Errorf("cron = %+v", cr)
	}
	if !slices.Equal(c.Supervisord.Files, []string{filepath.Join(dir, "worker.conf")}) {
		t.Errorf("files = %q", c.Supervisord.Files)
	}
}

func TestNumprocsInPhpinitYAML(t *testing.T) {
	c, err := loadOffline(t, `
supervisord: {include: []}
programs:
  q: {command: [q, "%(process_num)d"], numprocs: 2, numprocs_start: 4, process_name: "%(program_name)s-%(process_num)d"}
`)
	if err != nil {
		t.Fatal(err)
	}
	if names := sortedKeys(c.Programs); !slices.Equal(names, []string{"q-4", "q-5"}) {
		t.Fatalf("programs = %q", names)
	}
	if p := c.Programs["q-5"]; p.Command[1] != "5" || p.Environment["PROCESS_NUM"] != "5" || p.NumProcs != 1 {
		t.Errorf("q-5 = %+v", p)
	}
}

func TestSupervisordDuplicateNames(t *testing.T) {
	_, err, dir := loadWithSupervisord(t, "programs:\n  web: {command: [web]}\n", map[string]string{
		"a.conf": "[program:web]\ncommand=x\n[program:w]\ncommand=y\n",
		"b.conf": "\n[program:w]\ncommand=z\n",
	})
	wantProblems(t, err,
		"programs.w: defined twice: in "+filepath.Join(dir, "a.conf")+":3 and in "+filepath.Join(dir, "b.conf")+":2",
		"programs.web: defined twice: in "+filepath.Join(dir, "phpinit.yaml")+" and in "+filepath.Join(dir, "a.conf")+":1")
}

func TestNewProgramKeysValidated(t *testing.T) {
	_, err := loadOffline(t, `
supervisord: {include: []}
programs:
  a: {command: [a], numprocs: 0, numprocs_start: -1, exitcodes: [256], schedule: "61 * * * *"}
  b: {command: [b], numprocs: 2, process_name: same}
`)
	got := problemsOf(t, err)
	for _, w := range []string{"programs.a.numprocs: must be at least 1, got 0",
		"programs.a.numprocs_start: must be at least 0, got -1",
		"programs.a.exitcodes[0]: 256 is not an exit status (0 to 255)",
		"programs.b.process_name: must contain %(process_num)d (or 02d...) when numprocs > 1"} {
		if !slices.Contains(got, w) {
			t.Errorf("problems lack %q: %q", w, got)
		}
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "programs.a.schedule: invalid cron expression") }) {
		t.Errorf("no schedule problem: %q", got)
	}
}

func TestSupervisordFileErrorsHaveLines(t *testing.T) {
	_, err, dir := loadWithSupervisord(t, "", map[string]string{
		"w.conf": "[program:w]\ncommand=w\nstdout_logfile=/dev/tty\numask=022\nstderr_syslog=true\n",
	})
	f := filepath.Join(dir, "w.conf")
	got := err.Error()
	for _, w := range []string{f + `:3: [program:w] stdout_logfile: "/dev/tty" is not supported`, f + ":4: [program:w] umask:",
		f + ":5: [program:w] stderr_syslog: phpinit cannot send output to syslog"} {
		if !strings.Contains(got, w) {
			t.Errorf("error lacks %q:\n%s", w, got)
		}
	}
}

func TestOrderByPriority(t *testing.T) {
	c, err := loadOffline(t, `
supervisord: {include: []}
programs:
  a: {command: [a], priority: 10}
  b: {command: [b], priority: 5}
  c: {command: [c], priority: 1, depends_on: [a]}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Order(); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("order = %q, want [b a c]", got)
	}
}

// TestSupervisordGroupNamesCopies: [group:x] is the group of every copy,
// and %(group_name)s expands to it; CopyOf keeps the program key.
func TestSupervisordGroupNamesCopies(t *testing.T) {
	c, err, _ := loadWithSupervisord(t, "", map[string]string{
		"a.conf": "[group:queues]\nprograms=mail,jobs\n",
		"b.conf": "[program:mail]\ncommand=php artisan queue:work --name=%(group_name)s\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n" +
			"[program:jobs]\ncommand=jobs\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Programs["mail_1"]
	if m == nil || m.ProcessGroup != "queues" || m.CopyOf != "mail" || m.Command[3] != "--name=queues" {
		t.Fatalf("mail_1 = %+v", m)
	}
	if j := c.Programs["jobs"]; j == nil || j.ProcessGroup != "queues" || j.CopyOf != "" {
		t.Errorf("jobs = %+v", j)
	}
}

// TestSupervisordLogfiles maps stdout_logfile/stderr_logfile onto sinks.
func TestSupervisordLogfiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "l.conf")
	body := `[program:a]
command=a
stdout_logfile=/dev/fd/1
stderr_logfile=/proc/self/fd/2
[program:b]
command=b
stdout_logfile=/dev/stderr
stderr_logfile=/var/log/b.err
stderr_logfile_maxbytes=0
stderr_logfile_backups=2
[program:c]
command=c
stdout_logfile=/var/log/c.log
stdout_logfile_maxbytes=1KB
redirect_stderr=true
stderr_logfile=/var/log/ignored.log
[program:d]
command=d
stdout_logfile=relative.log
stderr_logfile=/dev/tty
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := FromSupervisord([]string{path}, nil)
	got := map[string][2]string{}
	for _, p := range im.Programs {
		got[p.Name] = [2]string{p.Stdout, p.Stderr}
	}
	want := map[string][2]string{
		// "": the default sink (inherit, or json with log.format json).
		"a": {"", ""}, "b": {"", "/var/log/b.err"},
		"c": {"/var/log/c.log", "/var/log/c.log"}, "d": {"inherit", "inherit"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sinks = %v, want %v", got, want)
	}
	if c := im.Programs[2]; c.StdoutMaxSize != 1024 || c.StderrMaxSize != 1024 {
		t.Errorf("c sizes = %v, %v; want 1KiB", c.StdoutMaxSize, c.StderrMaxSize)
	}
	if b := im.Programs[1]; b.StderrMaxSize != 10<<20 || b.StderrBackups != 2 {
		t.Errorf("b stderr size %v backups %d; want 10MiB, 2", b.StderrMaxSize, b.StderrBackups)
	}
	var notes []string
	for _, n := range im.Notices {
		notes = append(notes, n.String())
	}
	for _, w := range []string{
		path + ":7: [program:b] stdout_logfile: /dev/stderr becomes inherit: output goes to phpinit's stdout",
		path + ":9: [program:b] stderr_logfile_maxbytes: 0 (never rotate) is not supported",
		path + ":16: [program:c] stderr_logfile: ignored: redirect_stderr is true",
	} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, w) }) {
			t.Errorf("notices lack %q: %q", w, notes)
		}
	}
	for _, w := range []string{path + `:19: [program:d] stdout_logfile: "relative.log" is not an absolute path`,
		path + `:20: [program:d] stderr_logfile: "/dev/tty" is not supported`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

// TestCopiesRoundTrip: `check --print` of a config with copies loads back
// to the same programs.
func TestCopiesRoundTrip(t *testing.T) {
	c, err := loadOffline(t, `
supervisord: {include: []}
programs:
  q: {command: [q, "%(process_num)d"], numprocs: 2}
  web: {command: [web], depends_on: [q]}
`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadOffline(t, string(out))
	if err != nil {
		t.Fatalf("reload of\n%s\n: %v", out, err)
	}
	for name, p := range c.Programs {
		q := again.Programs[name]
		if q == nil || !slices.Equal(p.Command, q.Command) || !slices.Equal(p.DependsOn, q.DependsOn) ||
			!reflect.DeepEqual(p.Environment, q.Environment) {
			t.Errorf("%s: %+v, then %+v", name, p, q)
		}
	}
	if len(again.Programs) != len(c.Programs) {
		t.Errorf("programs %v, then %v", sortedKeys(c.Programs), sortedKeys(again.Programs))
	}
}

// NONE and /dev/null discard the stream, with a notice at the line: asked
// for, not dropped silently.
func TestSupervisordNoneDiscards(t *testing.T) {
	c, err, dir := loadWithSupervisord(t, "", map[string]string{
		"w.conf": "[program:w]\ncommand=w\nstdout_logfile=NONE\nstderr_logfile=/dev/null\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Programs["w"]
	if p.Stdout != "discard" || p.Stderr != "discard" {
		t.Errorf("stdout %q, stderr %q; want discard for both", p.Stdout, p.Stderr)
	}
	f := filepath.Join(dir, "w.conf")
	want := map[string]bool{f + ":3 stdout_logfile": false, f + ":4 stderr_logfile": false}
	for _, n := range c.Notices {
		if k := n.Where + " " + n.Key; strings.Contains(n.Msg, "becomes discard") {
			want[k] = true
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no discard notice at %s: %v", k, c.Notices)
		}
	}
}
