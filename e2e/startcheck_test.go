package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A pool copied from Debian's present when the container starts: php-fpm
// starts once, the check names the file and the fix in one error line, and
// the container exits 78 instead of crash-looping through its retries.
func TestDebianPoolAtStart(t *testing.T) {
	needEngine(t)
	t.Parallel()
	dir := hostDir(t)
	writeFile(t, filepath.Join(dir, "debian.conf"), "[debian]\nuser = www-data\ngroup = www-data\n"+
		"listen = /run/php/debian.sock\nlisten.owner = www-data\nlisten.group = www-data\n"+
		"pm = static\npm.max_children = 1\n", 0o644)
	c := run(t, []string{"-v", dir + ":/data/conf/php-fpm"})
	code := ""
	eventually(t, 2*time.Minute, "the container exits", func() (bool, string) {
		st := c.inspect("{{.State.Status}} {{.State.ExitCode}}")
		code = strings.TrimPrefix(st, "exited ")
		return strings.HasPrefix(st, "exited "), st
	})
	if code != "78" {
		t.Errorf("exit status %s, want 78", code)
	}
	logs := c.logs()
	if n := count(logs, "msg=started program=php-fpm "); n != 1 {
		t.Errorf("php-fpm started %d times, want once", n)
	}
	if n := count(logs, `msg="config invalid: not retrying until it is fixed" program=php-fpm err="/data/conf/php-fpm/debian.conf: listen.owner = www-data, but php-fpm runs as www`); n != 1 {
		t.Errorf("%d config invalid lines naming the pool, want 1", n)
	}
	if count(logs, "file=/data/conf/php-fpm/debian.conf") != 1 || count(logs, "backing off") != 0 {
		t.Errorf("the line does not name the file, or php-fpm was retried:\n%s", logs)
	}
}
