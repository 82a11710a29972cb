package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/go-multierror"
)

// writeConfig writes body to phpinit.yaml in a fresh directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "phpinit.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadOffline loads body with no host checks.
func loadOffline(t *testing.T, body string, environ ...string) (*Config, error) {
	t.Helper()
	return Load(Options{Path: writeConfig(t, body), Environ: environ, Offline: true})
}

// problemsOf returns "KEY: MSG" for each FieldError in err, in order, and
// checks that err is a *multierror.Error of *FieldError.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var me *multierror.Error
	if !errors.As(err, &me) {
		t.Fatalf("error is %T, want *multierror.Error: %v", err, err)
	}
	var out []string
	for _, e := range me.Errors {
		fe, ok := e.(*FieldError)
		if !ok {
			t.Fatalf("entry is %T, want *FieldError: %v", e, e)
		}
		out = append(out, (&FieldError{Key: fe.Key, Msg: fe.Msg}).Error())
	}
	return out
}

func wantProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	got := problemsOf(t, err)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got  %q\n want %q", got, want)
	}
}

func ptr[T any](v T) *T { return &v }
