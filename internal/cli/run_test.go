package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/app"
)

// Each outcome of app.Boot has its exit status (the table in run's help).
func TestRunStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		msg    string // in the error (printed by Run)
		stderr string // printed by runStatus itself
	}{
		{nil, ExitOK, "", ""},
		{app.Status(0), 0, "exit status 0", ""},
		{app.Status(137), 137, "exit status 137", ""},
		{&app.ConfigError{Err: errors.New("phpinit.yaml: programs.web.command: required")}, ExitConfig, "invalid config: not starting", "programs.web.command: required"},
		{app.ErrNoConfigFile, ExitConfig, "no config file: looked in", ""},
		{fmt.Errorf("%w in /etc/phpinit/phpinit.yaml", app.ErrNoPrograms), ExitConfig, "no programs configured in /etc/phpinit/phpinit.yaml", ""},
		{&hooks.Error{Hook: "/data/script/script.sh", Code: 3, Err: errors.New("exit status 3")}, 3, "exit status 3", ""},
		{app.ErrHooksInterrupted, ExitHooksInterrupted, "exit status 130", ""},
		{errors.New("cannot listen on :8081: address already in use"), ExitFailed, "address already in use", ""},
	} {
		var stderr bytes.Buffer
		err := runStatus(&stderr, tc.err)
		if tc.err == nil {
			if err != nil {
				t.Errorf("runStatus(nil) = %v", err)
			}
			continue
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("runStatus(%v) = %v, want exit %d with %q", tc.err, err, tc.code, tc.msg)
		}
		if !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("runStatus(%v) printed %q, want %q", tc.err, stderr.String(), tc.stderr)
		}
	}
}
