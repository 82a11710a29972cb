package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phpinit/phpinit/config"
)

var updateGolden = flag.Bool("update-migrate", false, "rewrite testdata/migrate/*.golden")

// TestMigrateSupervisordGolden runs `phpinit migrate supervisord` on the
// shapes of real images' and apps' supervisord files.
func TestMigrateSupervisordGolden(t *testing.T) {
	dir, err := filepath.Abs("testdata/migrate")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"laravel-worker", "horizon", "trafex", "richarvey", "group"} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run([]string{"migrate", "supervisord", filepath.Join(dir, name+".conf")}, &out, &errb)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
			}
			got := strings.ReplaceAll(out.String(), dir, "testdata/migrate")
			golden := filepath.Join("testdata/migrate", name+".golden")
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test -run %s -update-migrate):\n%s", golden, t.Name(), got)
			}
			// The output is a phpinit.yaml that loads without errors.
			yml := filepath.Join(t.TempDir(), "phpinit.yaml")
			if err := os.WriteFile(yml, []byte("supervisord: {include: []}\n"+out.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(config.Options{Path: yml, Offline: true}); err != nil {
				t.Errorf("the output does not load:\n%v", err)
			}
		})
	}
}

func TestMigrateSupervisordErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	body := "[program:w]\ncommand=php artisan \"queue:work\nnumprocs=two\nstdout_logfile=/dev/tty\n"
	if err := os.WriteFile(bad, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Run([]string{"migrate", "supervisord", bad}, &out, &errb); code != ExitFailed {
		t.Fatalf("exit %d, want %d", code, ExitFailed)
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out.String())
	}
	for _, want := range []string{bad + ":2: [program:w] command: no closing quotation",
		bad + ":3: [program:w] numprocs: \"two\" is not an integer",
		bad + `:4: [program:w] stdout_logfile: "/dev/tty" is not supported`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestCheckReportsSupervisordErrors: `phpinit check` names the
// supervisord file and line of each problem.
func TestCheckReportsSupervisordErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "supervisord"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "supervisord", "worker.conf")
	body := "[program:worker]\ncommand=php artisan queue:work\nautorestart=sometimes\nstopsignal=QUITE\nnumprocs=3\n"
	yml := filepath.Join(dir, "phpinit.yaml")
	for path, b := range map[string]string{conf: body,
		yml: "supervisord: {include: [supervisord/*.conf]}\nprograms:\n  web: {command: [web]}\n"} {
		if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := Run([]string{"check", "--offline", "--config", yml}, &out, &errb); code != ExitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitFailed, errb.String())
	}
	for _, want := range []string{
		conf + `:3: [program:worker] autorestart: "sometimes" is not true, false or unexpected`,
		conf + `:4: [program:worker] stopsignal: unknown signal "QUITE"`,
		conf + ":5: [program:worker] process_name: %(process_num) must be present within process_name when numprocs > 1",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestCheckPrintsSupervisordWarnings: a good supervisord file with an
// unknown key passes `phpinit check` with a warning naming file, line and
// key.
func TestCheckPrintsSupervisordWarnings(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "worker.conf")
	yml := filepath.Join(dir, "phpinit.yaml")
	for path, b := range map[string]string{
		conf: "[supervisord]\nnodaemon=true\n[program:worker]\ncommand=php artisan queue:work\nnumproc=3\n",
		yml:  "supervisord: {include: ['*.conf']}\n",
	} {
		if err := os.WriteFile(path, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := Run([]string{"check", "--offline", "--config", yml, "--print"}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{
		"info: " + conf + ":1: [supervisord] section ignored",
		"warning: " + conf + ":5: [program:worker] numproc: unknown key ignored",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if !strings.Contains(out.String(), "  worker:\n") || !strings.Contains(out.String(), "critical: false") {
		t.Errorf("--print lacks the worker program:\n%s", out.String())
	}
}

func TestMigrateSupervisordDuplicateName(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")
	os.WriteFile(a, []byte("[program:w]\ncommand=a\n"), 0o644)
	os.WriteFile(b, []byte("[program:w]\ncommand=b\n"), 0o644)
	var out, errb bytes.Buffer
	if code := Run([]string{"migrate", "supervisord", a, b}, &out, &errb); code != ExitFailed {
		t.Fatalf("exit %d, want %d", code, ExitFailed)
	}
	if want := b + ":1: programs.w: defined twice: in " + a + ":1 and in " + b + ":1"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errb.String())
	}
}
