package supervisord

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input makes Parse panic, and every problem it reports
// names the file.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"[program:a]\ncommand=a\n",
		"[program:a]\ncommand=sh -c 'x\nenvironment=A=\"1\nnumprocs=%(ENV_N)d\n",
		"[group:g]\nprograms=a,,b\n[include]\nfiles=*.conf\n",
		"  indented\n[x\nk=v\n[program:]\n",
		"[program:a]\ncommand=%(process_num)02d %(\nprocess_name=%%(x)s\nstdout_logfile=%(here)s/log\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		path := filepath.Join(t.TempDir(), "f.conf")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Parse([]string{path}, []string{"N=3"})
		if me, ok := err.(interface{ WrappedErrors() []error }); ok {
			for _, e := range me.WrappedErrors() {
				if pe, ok := e.(*Error); !ok || pe.File == "" {
					t.Errorf("error without a file: %v", e)
				}
			}
		}
		_ = ExpandPerProcess(body, map[string]string{"process_num": "1", "program_name": "p"})
		_, _ = splitCommand(body)
		_, _ = parseEnvironment(body)
	})
}
