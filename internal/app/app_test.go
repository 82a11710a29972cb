package app

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phpinit/phpinit/config"
	"github.com/phpinit/phpinit/internal/control"
	"github.com/phpinit/phpinit/supervisor"
)

// Every source's failed reload maps to the same answer.
func TestReloadErrorReply(t *testing.T) {
	tests := []struct {
		err    error
		status int
		kind   control.Kind
	}{
		{fmt.Errorf("nope: %w", supervisor.ErrUnknownProgram), http.StatusNotFound, control.KindUnknownProgram},
		{supervisor.ErrNotRunning, http.StatusConflict, control.KindOperationFailed},
		{errors.New("web: check failed: exit status 1"), http.StatusInternalServerError, control.KindOperationFailed},
	}
	for _, from := range []string{FromSignal, FromControl, FromHTTP, FromWatch} {
		for _, tc := range tests {
			err := error(&ReloadError{From: from, Program: "web", Err: tc.err})
			status, reply := control.Reply("web", err, false, false, time.Second)
			if status != tc.status || reply.Kind != tc.kind {
				t.Errorf("%s %v: %d %s, want %d %s", from, tc.err, status, reply.Kind, tc.status, tc.kind)
			}
			if status == http.StatusInternalServerError && reply.Message != tc.err.Error() {
				t.Errorf("message %q, want the cause's %q", reply.Message, tc.err)
			}
		}
	}
}

// A bad probe is a config error, reported for every program at once, and
// the specs carry probe specs the supervisor builds its probers from.
func TestBuildSpecs(t *testing.T) {
	cfg := &config.Config{Programs: map[string]*config.Program{
		"a": {Name: "a", Command: []string{"true"}, Ready: &config.Probe{TCP: "nohostport"}},
		"b": {Name: "b", Command: []string{"true"}, Live: &config.Probe{HTTP: "ftp://x/"}},
	}}
	_, err := buildSpecs(cfg, os.Environ())
	if err == nil || !strings.Contains(err.Error(), "program a: ready:") || !strings.Contains(err.Error(), "program b: live:") {
		t.Fatalf("err = %v, want both programs' probe errors", err)
	}

	cfg.Programs["a"].Ready = &config.Probe{Exec: []string{"true"}, Timeout: time.Second, FailureThreshold: 3}
	cfg.Programs["b"].Live = nil
	cfg.Programs["b"].Environment = map[string]string{"APP": "x"}
	specs, err := buildSpecs(cfg, []string{"PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Name != "a" || specs[0].Ready == nil || specs[0].Ready.Probe.Exec[0] != "true" ||
		specs[0].Ready.Prober != nil || specs[0].Ready.FailureThreshold != 3 {
		t.Fatalf("specs = %+v", specs)
	}
	if !slices.Contains(specs[1].Env, "APP=x") || !slices.Contains(specs[1].Env, "PATH=/bin") {
		t.Errorf("env = %q", specs[1].Env)
	}
	if specs[0].Fingerprint == specs[1].Fingerprint {
		t.Error("different programs share a fingerprint")
	}
}
