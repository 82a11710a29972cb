package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// -v HOST:/data/conf/php, empty: seeded with uploads.ini, which applies to
// php-fpm and the CLI next to Debian's conf.d; an edit reloads php-fpm.
func TestPHPSettings(t *testing.T) {
	needEngine(t)
	t.Parallel()
	dir := hostDir(t)
	c := run(t, []string{"-v", dir + ":/data/conf/php"})
	c.sh(`printf '<?php echo ini_get("upload_max_filesize"), " ", ini_get("post_max_size"), " ", ini_get("memory_limit"), " ", extension_loaded("mbstring") ? "mbstring" : "no-mbstring";' > /data/www/ini.php`)
	if _, err := os.Stat(filepath.Join(dir, "uploads.ini")); err != nil {
		c.waitServing("/")
		if _, err := os.Stat(filepath.Join(dir, "uploads.ini")); err != nil {
			t.Fatalf("the empty /data/conf/php was not seeded: %v", err)
		}
	}
	// Debian's conf.d (mbstring) still read, then /data/conf/php.
	if body := c.waitServing("/ini.php"); body != "64M 64M 128M mbstring" {
		t.Errorf("php-fpm: %q, want 64M 64M 128M mbstring", body)
	}
	// The CLI's memory_limit is -1 in Debian's cli/php.ini.
	if out, _ := c.exec("php", "/data/www/ini.php"); out != "64M 64M -1 mbstring" {
		t.Errorf("CLI: %q, want 64M 64M -1 mbstring", out)
	}
	writeFile(t, filepath.Join(dir, "zz-memory.ini"), "memory_limit = 77M\n", 0o644)
	eventually(t, 60*time.Second, "php-fpm reloaded with memory_limit 77M", func() (bool, string) {
		_, body, err := get(c.url("/ini.php"))
		return body == "64M 64M 77M mbstring", body + errString(err)
	})
	if out, _ := c.exec("php", "/data/www/ini.php"); out != "64M 64M 77M mbstring" {
		t.Errorf("CLI after the edit: %q", out)
	}
}

// www is in www-data; each PHP error reaches docker logs once, whole, as
// PHP wrote it (not as php-fpm's NOTICE, not again in nginx's log).
func TestPHPErrorsOnce(t *testing.T) {
	needEngine(t)
	t.Parallel()
	c := run(t, nil)
	if out := c.sh("id -nG www"); !strings.Contains(out, "www-data") {
		t.Errorf("www's groups: %q, want www-data among them", out)
	}
	c.sh(`printf '<?php echo $e2e_undefined; error_log("e2e-long " . str_repeat("x", 3000) . " end"); echo "done";' > /data/www/err.php`)
	if body := c.waitServing("/err.php"); body != "done" {
		t.Errorf("GET /err.php: %q", body)
	}
	logs := c.waitLog("e2e-long")
	if n := count(logs, "Undefined variable $e2e_undefined"); n != 1 {
		t.Errorf("the warning appears %d times, want 1:\n%s", n, logs)
	}
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "Undefined variable $e2e_undefined") && !strings.Contains(l, "PHP Warning:") {
			t.Errorf("warning not at its level: %q", l)
		}
		if strings.Contains(l, "e2e-long") && !strings.HasSuffix(l, " end") {
			t.Errorf("long message cut: %.80q...%q", l, l[max(0, len(l)-40):])
		}
	}
	for _, s := range []string{"FastCGI sent in stderr", "NOTICE: PHP message"} {
		if strings.Contains(logs, s) {
			t.Errorf("%q in the log: PHP's error logged twice", s)
		}
	}
}

// log.format json: every line of the container is one JSON object.
func TestJSONLogs(t *testing.T) {
	needEngine(t)
	t.Parallel()
	c := run(t, []string{"-e", "PHPINIT_LOG_FORMAT=json"})
	c.sh(`printf '<?php echo $e2e_undefined; echo "done";' > /data/www/err.php`)
	c.waitServing("/err.php")
	c.waitHealthy()
	logs := c.waitLog("e2e_undefined")
	c.waitLog("GET /err.php")
	for _, l := range strings.Split(strings.TrimRight(logs, "\n"), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("not JSON: %q", l)
		}
	}
}

// A pool copied from Debian's (its socket for www-data) is refused by the
// check with one line saying what to change; the running pool keeps serving.
func TestDebianPoolRefused(t *testing.T) {
	needEngine(t)
	t.Parallel()
	c := run(t, nil)
	c.waitServing("/")
	c.sh(`printf '[debian]\nuser = www-data\ngroup = www-data\nlisten = /run/php/debian.sock\nlisten.owner = www-data\nlisten.group = www-data\npm = static\npm.max_children = 1\n' > /data/conf/php-fpm/debian.conf`)
	logs := c.waitLog("check failed")
	if n := count(logs, "listen.owner = www-data, but php-fpm runs as www"); n != 1 {
		t.Errorf("the reason appears %d times, want 1:\n%s", n, logs)
	}
	if strings.Contains(logs, "failed to chown() the socket") {
		t.Errorf("php-fpm was restarted with the pool:\n%s", logs)
	}
	c.waitServing("/index.php")
}
