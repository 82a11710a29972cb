package supervisord

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseProgramKeysAndExpansions(t *testing.T) {
	dir := t.TempDir()
	main := write(t, dir, "main.conf", `
[supervisord]
nodaemon=true

[include]
files = conf.d/*.conf

[group:workers]
programs=queue
`)
	write(t, dir, "conf.d/queue.conf", `
# a comment
[program:queue]
command=php %(here)s/artisan queue:work --env=%(ENV_APP_ENV)s 'a b' "c \"d\"" ; inline
    --name=%(process_num)02d
numprocs=3
process_name=%(program_name)s_%(process_num)02d
environment=A="1,2",B=x/y.z,C='q r'
autorestart=unexpected
exitcodes=0, 2
stopsignal=sigint
stopasgroup=true
priority=5
stdout_logfile=/var/log/q.log
stdout_logfile_maxbytes=1MB
redirect_stderr=yes
date_format=%%Y
bogus=1
`)
	res, err := Parse([]string{main}, []string{"APP_ENV=prod"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Programs) != 1 {
		t.Fatalf("programs = %d, want 1", len(res.Programs))
	}
	p := res.Programs[0]
	want := []string{"php", filepath.Join(dir, "conf.d") + "/artisan", "queue:work", "--env=prod", "a b", `c "d"`, "--name=%(process_num)02d"}
	if !slices.Equal(p.Command, want) {
		t.Errorf("command = %q, want %q", p.Command, want)
	}
	if p.Group != "workers" || p.NumProcs != 3 || p.Autorestart != "unexpected" || p.StopSignal != "INT" ||
		!p.StopAsGroup || !p.KillAsGroup || p.Priority != 5 || !p.RedirectStderr {
		t.Errorf("program = %+v", p)
	}
	if !slices.Equal(p.ExitCodes, []int{0, 2}) {
		t.Errorf("exitcodes = %v", p.ExitCodes)
	}
	if wantEnv := map[string]string{"A": "1,2", "B": "x/y.z", "C": "q r"}; !reflect.DeepEqual(p.Environment, wantEnv) {
		t.Errorf("environment = %v, want %v", p.Environment, wantEnv)
	}
	if p.Stdout.File != "/var/log/q.log" || p.Stdout.MaxBytes != 1<<20 || p.Stdout.Backups != 10 {
		t.Errorf("stdout = %+v", p.Stdout)
	}
	var notes []string
	for _, n := range res.Notices {
		notes = append(notes, n.Level+" "+n.String())
	}
	for _, w := range []string{
		"info " + main + ":2: [supervisord] section ignored",
		"warn " + filepath.Join(dir, "conf.d/queue.conf") + ":17: [program:queue] date_format: unknown key ignored",
		"warn " + filepath.Join(dir, "conf.d/queue.conf") + ":18: [program:queue] bogus: unknown key ignored",
	} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, w) }) {
			t.Errorf("notices lack %q: %q", w, notes)
		}
	}
	if !slices.Equal(res.Files, []string{main, filepath.Join(dir, "conf.d/queue.conf")}) {
		t.Errorf("files = %q", res.Files)
	}
}

func TestParseDefaults(t *testing.T) {
	path := write(t, t.TempDir(), "a.conf", "[program:a]\ncommand=a\n")
	res, err := Parse([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Programs[0]
	if p.NumProcs != 1 || !p.Autostart || p.Autorestart != "unexpected" || p.StartSecs != 1 ||
		p.StartRetries != 3 || p.StopSignal != "TERM" || p.StopWaitSecs != 10 || p.Priority != 999 ||
		p.Stdout.File != "AUTO" || !slices.Equal(p.ExitCodes, []int{0}) || p.Group != "" {
		t.Errorf("defaults = %+v", p)
	}
}

// TestParseErrorsAllAtOnce: every bad value is reported with its file
// and line, in one error.
func TestParseErrorsAllAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "bad.conf", `[program:a]
command=sh -c 'unterminated
numprocs=2
autostart=maybe
exitcodes=0,300
environment=A=1 B=2
stdout_logfile_maxbytes=lots
user=%(ENV_NOPE)s
[group:g]
programs=a,missing
[eventlistener:x]
command=x
key without value
`)
	_, err := Parse([]string{path}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		path + `:2: [program:a] command: no closing quotation`,
		path + `:3: [program:a] process_name: %(process_num) must be present within process_name when numprocs > 1`,
		path + `:4: [program:a] autostart: "maybe" is not a valid boolean value`,
		path + `:5: [program:a] exitcodes: "0,300" is not a list of exit codes (0 to 255, separated by commas)`,
		path + `:6: [program:a] environment: expected "," after A=1, got "B" (quote values with spaces or other characters)`,
		path + `:7: [program:a] stdout_logfile_maxbytes: "lots" is not a size (a byte count, or with KB, MB or GB)`,
		path + `:8: [program:a] user: cannot expand %(ENV_NOPE)s: NOPE is not in the environment`,
		path + `:10: [group:g] programs: no [program:missing]`,
		path + `:11: [eventlistener:x] is not supported by phpinit`,
		path + `:13: expected key = value, got "key without value"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got  %q\n want %q", got, want)
	}
}

func TestSplitCommandLikeShlex(t *testing.T) {
	for in, want := range map[string][]string{
		`nginx -g 'daemon off;'`:     {"nginx", "-g", "daemon off;"},
		`a "b \"c\" \d" e\ f ''`:     {"a", `b "c" \d`, "e f", ""},
		"a\n  b\tc":                  {"a", "b", "c"},
		`php-fpm83 -F`:               {"php-fpm83", "-F"},
		`sh -c "exec php artisan x"`: {"sh", "-c", "exec php artisan x"},
		`x"y z"w`:                    {"xy zw"},
	} {
		got, err := splitCommand(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"ENV_N": "7", "here": "/etc"}
	for in, want := range map[string]string{
		"%(here)s/x":                         "/etc/x",
		"%(ENV_N)03d":                        "007",
		"100%%":                              "100%",
		"%(program_name)s_%(process_num)02d": "%(program_name)s_%(process_num)02d",
	} {
		if got, err := expand(in, vars); err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := expand("date +%s", vars); err == nil {
		t.Error("expand of a lone % gave no error")
	}
	got := ExpandPerProcess("%(program_name)s_%(process_num)02d-%(group_name)s %(other)s", map[string]string{
		"program_name": "w", "process_num": "3", "group_name": "g"})
	if got != "w_03-g %(other)s" {
		t.Errorf("ExpandPerProcess = %q", got)
	}
}

// TestParseEnvironmentFeedsExpansions: supervisord adds a program's own
// environment= to the %(ENV_X)s of its other keys, whatever their order.
func TestParseEnvironmentFeedsExpansions(t *testing.T) {
	path := write(t, t.TempDir(), "a.conf", `[program:a]
command=php %(ENV_APP)s/artisan
directory=%(ENV_APP)s
environment=APP="/srv/app",HOME=%(ENV_HOME)s
stdout_logfile=Off
stderr_logfile=auto
`)
	res, err := Parse([]string{path}, []string{"HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Programs[0]
	if !slices.Equal(p.Command, []string{"php", "/srv/app/artisan"}) || p.Directory != "/srv/app" || p.Environment["HOME"] != "/root" {
		t.Errorf("program = %+v", p)
	}
	if p.Stdout.File != "NONE" || p.Stderr.File != "AUTO" {
		t.Errorf("logfiles = %q, %q; want NONE, AUTO", p.Stdout.File, p.Stderr.File)
	}
}

func TestParseStopAsGroupNeedsKillAsGroup(t *testing.T) {
	path := write(t, t.TempDir(), "a.conf", "[program:a]\ncommand=a\nstopasgroup=true\nkillasgroup=false\n")
	_, err := Parse([]string{path}, nil)
	if err == nil || err.Error() != path+":4: [program:a] killasgroup: cannot set stopasgroup=true and killasgroup=false" {
		t.Errorf("err = %v", err)
	}
}

// TestGlobLikePython: "*" skips dot entries (Kubernetes' ..data) and
// directories.
func TestGlobLikePython(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "worker.conf", "")
	write(t, dir, ".hidden.conf", "")
	write(t, dir, "..data/worker.conf", "")
	write(t, dir, "sub.conf/x", "")
	got, err := Glob(filepath.Join(dir, "*"))
	if err != nil || !slices.Equal(got, []string{filepath.Join(dir, "worker.conf")}) {
		t.Errorf("Glob(*) = %q, %v", got, err)
	}
	got, _ = Glob(filepath.Join(dir, ".*.conf"))
	if !slices.Equal(got, []string{filepath.Join(dir, ".hidden.conf")}) {
		t.Errorf("Glob(.*.conf) = %q", got)
	}
}
