package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostDir is an empty directory a container can read (t.TempDir is 0700).
func hostDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func writeFile(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// -v HOST:/data/conf/nginx, empty: seeded; edited from the host: checked
// and reloaded; a broken edit is refused and the site keeps serving.
func TestNginxConfBindMount(t *testing.T) {
	needEngine(t)
	t.Parallel()
	dir := hostDir(t)
	c := run(t, []string{"-v", dir + ":/data/conf/nginx"})
	c.waitServing("/")
	conf := filepath.Join(dir, "default.conf")
	shipped, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("the empty bind mount was not seeded: %v", err)
	}
	if logs := c.logs(); count(logs, "seeded empty config directory") < 1 {
		t.Errorf("no seeding line in the log:\n%s", logs)
	}

	edited := strings.Replace(string(shipped), "    root /data/www;",
		"    root /data/www;\n    location = /e2e-edit { default_type text/plain; return 200 \"edited\\n\"; }", 1)
	writeFile(t, conf, edited, 0o644)
	eventually(t, 60*time.Second, "the host's edit served", func() (bool, string) {
		code, body, err := get(c.url("/e2e-edit"))
		return code == 200 && body == "edited\n", body + errString(err)
	})

	writeFile(t, conf, edited+"\nthis is not nginx {\n", 0o644)
	c.waitLog("check failed")
	for _, p := range []string{"/", "/e2e-edit"} {
		if code, body, err := get(c.url(p)); code != 200 {
			t.Errorf("after a broken edit GET %s: %d %v %.100q", p, code, err, body)
		}
	}
	if st := c.inspect("{{.State.Status}}"); st != "running" {
		t.Fatalf("after a broken edit the container is %s", st)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}
