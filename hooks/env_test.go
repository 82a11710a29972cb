package hooks

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMergeEnv(t *testing.T) {
	base := []string{"PATH=/bin", "DUP=1", "GONE=x", "BAD-NAME=keep", "PWD=/app", "SHLVL=3", "SAME=s", "DUP=2", "NOEQUALS"}
	captured := []string{
		"PATH=/bin", "DUP=2", "SAME=s", "PWD=/tmp", "SHLVL=4", "OLDPWD=/app", "_=/usr/bin/env",
		"ZNEW=z", "ANEW=a\nb=c", "BASH_FUNC_f%%=() {  :\n}",
	}
	env, exported, unset := mergeEnv(base, captured)
	wantEnv := []string{"PATH=/bin", "DUP=2", "BAD-NAME=keep", "PWD=/app", "SHLVL=3", "SAME=s",
		"ANEW=a\nb=c", "BASH_FUNC_f%%=() {  :\n}", "ZNEW=z"}
	if !slices.Equal(env, wantEnv) {
		t.Errorf("env = %q\nwant  %q", env, wantEnv)
	}
	wantExp := map[string]string{"ANEW": "a\nb=c", "ZNEW": "z", "BASH_FUNC_f%%": "() {  :\n}"}
	if !maps.Equal(exported, wantExp) {
		t.Errorf("exported = %q, want %q", exported, wantExp)
	}
	if !slices.Equal(unset, []string{"GONE"}) {
		t.Errorf("unset = %q", unset)
	}
}

func TestParseDump(t *testing.T) {
	tests := []struct {
		in      string
		status  int
		records []string
		ok      bool
	}{
		{"", 0, nil, false},
		{"0\n", 0, nil, true},
		{"1\nA=1\x00B=x\ny\x00", 1, []string{"A=1", "B=x\ny"}, true},
		{"garbage", 0, nil, false},
	}
	for _, tc := range tests {
		status, records, ok := parseDump([]byte(tc.in))
		if status != tc.status || !slices.Equal(records, tc.records) || ok != tc.ok {
			t.Errorf("parseDump(%q) = %d, %q, %v", tc.in, status, records, ok)
		}
	}
}

func TestIsShellName(t *testing.T) {
	for name, want := range map[string]bool{
		"A": true, "_x1": true, "abc_DEF9": true,
		"": false, "1A": false, "A-B": false, "A.B": false, "É": false, "BASH_FUNC_f%%": false,
	} {
		if got := isShellName(name); got != want {
			t.Errorf("isShellName(%q) = %v", name, got)
		}
	}
}

// TestScriptExportOverArgMax: a value no execve accepts fails the hook,
// naming the variable, with bash; with dash (no fallback to list the
// exports) it fails saying why.
func TestScriptExportOverArgMax(t *testing.T) {
	script := "export OK=small\nexport BIG=\"$(printf '%0200000d' 0)\"\n"
	for name, shell := range shells(t) {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "script.sh"), 0o644, script)
			var errs recorder
			res, err := run(t.Context(), Options{Script: path, Env: baseEnv(), Stderr: &errs}, shell)
			var he *Error
			if !errors.As(err, &he) || he.Hook != path {
				t.Fatalf("err = %v, want a hook error", err)
			}
			switch filepath.Base(shell) {
			case "bash":
				if he.Code != 1 || !strings.Contains(err.Error(), "cannot export BIG: 200005 bytes") {
					t.Errorf("bash: code %d, %v", he.Code, err)
				}
			default:
				if he.Code != 126 || !strings.Contains(strings.Join(errs.Writes(), ""), "over 128 KiB") {
					t.Errorf("%s: code %d, stderr %q", shell, he.Code, errs.Writes())
				}
			}
			if _, ok := res.Exported["BIG"]; ok {
				t.Error("BIG reached the programs' environment")
			}
		})
	}
	// At the limit exactly is fine.
	ok := map[string]string{"V": strings.Repeat("x", maxArgStrlen-len("V=")-1)}
	if err := checkExportSizes(ok); err != nil {
		t.Error(err)
	}
	ok["V"] += "x"
	if err := checkExportSizes(ok); err == nil {
		t.Error("one byte over the limit passed")
	}
}
