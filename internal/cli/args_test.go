package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeArgs(t *testing.T) {
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	cases := []struct{ in, want []string }{
		{nil, []string{"run"}},
		{[]string{"--config", "x.yaml"}, []string{"run", "--config", "x.yaml"}},
		{[]string{"--", "sh", "-c", "exit 7"}, []string{"run", "--", "sh", "-c", "exit 7"}},
		{[]string{"php", "-v"}, []string{"run", "--", "php", "-v"}},
		{[]string{"php", "artisan", "migrate"}, []string{"run", "--", "php", "artisan", "migrate"}},
		{[]string{"check", "--offline"}, []string{"check", "--offline"}},
		{[]string{"ctl", "status"}, []string{"ctl", "status"}},
		{[]string{"version"}, []string{"version"}},
		{[]string{"--help"}, []string{"--help"}},
		{[]string{"run", "--", "php", "-v"}, []string{"run", "--", "php", "-v"}},
	}
	onPath := func(name string) (string, error) {
		if name == "php" || name == "chekc" {
			return "/usr/bin/" + name, nil
		}
		return "", exec.ErrNotFound
	}
	for _, c := range cases {
		if got, err := normalizeArgs(c.in, root, onPath); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("normalizeArgs(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// A typo of a subcommand is not run, unless it is a program on PATH.
	for _, typed := range []string{"chek", "ctll", "verison", "hep"} {
		_, err := normalizeArgs([]string{typed, "x"}, root, onPath)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitUsage || !strings.Contains(err.Error(), "did you mean") {
			t.Errorf("normalizeArgs(%q): %v, want a usage error with a suggestion", typed, err)
		}
	}
	for _, in := range [][]string{{"chekc"}, {"./chek"}, {"frobnicate"}} {
		if got, err := normalizeArgs(in, root, onPath); err != nil || got[0] != "run" {
			t.Errorf("normalizeArgs(%q) = %q, %v; want it run", in, got, err)
		}
	}
}

func TestTypoSuggestions(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"chek"}, `unknown command "chek" (did you mean check?)`},
		{[]string{"ctl", "stauts"}, `unknown command "stauts" for "phpinit ctl" (did you mean status?)`},
		{[]string{"ctl", "relaod", "nginx"}, `(did you mean reload?)`},
		{[]string{"check", "--confg", "x"}, `unknown flag: --confg (did you mean --config?)`},
		{[]string{"--confg=x"}, `unknown flag: --confg (did you mean --config?)`},
		{[]string{"--verison"}, `unknown flag: --verison (did you mean --version?)`},
		{[]string{"ctl", "status", "--jsno"}, `(did you mean --json?)`},
		{[]string{"ctl", "status", "--sockt", "/x"}, `(did you mean --socket?)`},
	} {
		var out bytes.Buffer
		code := Run(c.args, &out, &out)
		if code != ExitUsage || !strings.Contains(out.String(), c.want) {
			t.Errorf("phpinit %q: exit %d, output %q; want %d and %q", c.args, code, out.String(), ExitUsage, c.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	var flag, cmd bytes.Buffer
	if code := Run([]string{"--version"}, &flag, &flag); code != 0 {
		t.Fatalf("--version: exit %d: %s", code, flag.String())
	}
	Run([]string{"version"}, &cmd, &cmd)
	if flag.String() != cmd.String() {
		t.Errorf("--version printed %q, version %q", flag.String(), cmd.String())
	}
}

func TestHelpListsExitStatuses(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"run", "--help"}, {"check", "--help"}, {"version", "--help"}, {"healthcheck", "--help"},
		{"ctl", "--help"}, {"ctl", "status", "--help"}, {"ctl", "start", "--help"}, {"ctl", "stop", "--help"},
		{"ctl", "restart", "--help"}, {"ctl", "reload", "--help"}, {"ctl", "signal", "--help"},
	} {
		var out bytes.Buffer
		if code := Run(args, &out, &out); code != 0 || !strings.Contains(out.String(), "\n\nExit status:") {
			t.Errorf("phpinit %q: exit %d, no exit statuses in:\n%s", args, code, out.String())
		}
	}
}

func TestCheckValidAndNoConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/ok.yaml"
	writeFile(t, cfg, "programs:\n  a: {command: [sleep, '1']}\n  b: {command: [sleep, '1']}\n")
	var out, errs bytes.Buffer
	if code := Run([]string{"check", "--offline", "--config", cfg}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if want := "valid: 2 programs in " + cfg + "\n"; out.String() != want {
		t.Errorf("check printed %q, want %q", out.String(), want)
	}
	out.Reset()
	if code := Run([]string{"check", "--offline", "--print", "--config", cfg}, &out, &errs); code != 0 ||
		strings.Contains(out.String(), "valid:") || !strings.Contains(errs.String(), "valid: 2 programs") {
		t.Errorf("check --print: exit %d, stdout %q, stderr %q: the YAML alone on stdout", code, out.String(), errs.String())
	}
	if err := noConfigFile(); !strings.Contains(err.Error(), "no config file: looked in ") ||
		!strings.Contains(err.Error(), "/etc/phpinit/phpinit.yaml") {
		t.Errorf("noConfigFile() = %v", err)
	}
}

func TestUnknownEnvWarning(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/ok.yaml"
	writeFile(t, cfg, "programs:\n  a: {command: [sleep, '1']}\n")
	t.Setenv("PHPINIT_SHUTDOWN_GRAEC", "40s")
	var out, errs bytes.Buffer
	if code := Run([]string{"check", "--offline", "--config", cfg}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if want := "phpinit: warning: PHPINIT_SHUTDOWN_GRAEC is no phpinit setting: ignored (did you mean PHPINIT_SHUTDOWN_GRACE?)\n"; errs.String() != want {
		t.Errorf("stderr %q, want %q", errs.String(), want)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := Run([]string{"version"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(out.String(), "phpinit ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("version output %q", out.String())
	}
}

func TestUsageErrorExits2(t *testing.T) {
	var out bytes.Buffer
	if code := Run([]string{"check", "--no-such-flag"}, &out, &out); code != ExitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, ExitUsage)
	}
}

func TestRunInvalidConfigExits78(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/bad.yaml"
	writeFile(t, cfg, "programs:\n  web:\n    command: [sleep, '1']\n    stop_signal: NOPE\n")
	var out bytes.Buffer
	if code := Run([]string{"run", "--config", cfg}, &out, &out); code != ExitConfig {
		t.Errorf("exit %d, want %d; output:\n%s", code, ExitConfig, out.String())
	}
	if !strings.Contains(out.String(), `programs.web.stop_signal: unknown signal "NOPE"`) {
		t.Errorf("error not reported with its key:\n%s", out.String())
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
