package cli

import (
	"bytes"
	"os"
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
	for _, c := range cases {
		if got := normalizeArgs(c.in, root); !slices.Equal(got, c.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", c.in, got, c.want)
		}
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
