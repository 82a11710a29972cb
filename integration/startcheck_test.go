package integration

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phpinit/phpinit/supervisor"
)

// A start that fails because of the config: php-fpm or nginx starts once,
// its check says why, and it is FATAL at once with that line as the
// reason, instead of crash-looping through start_retries.

// debianPool is what a pool copied from Debian's www.conf says about users.
const debianPool = `[debian]
user = www-data
group = www-data
listen = {{RUN}}/debian.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = static
pm.max_children = 1
`

// shippedFPMCheck is the php-fpm check of configs/phpinit.yaml, with the
// image's paths replaced by the site's.
func shippedFPMCheck(t *testing.T, st *site) []string {
	t.Helper()
	raw, err := os.ReadFile("../configs/phpinit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Programs map[string]struct {
			Check []string `yaml:"check"`
		} `yaml:"programs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	check := cfg.Programs["php-fpm"].Check
	if len(check) == 0 {
		t.Fatal("configs/phpinit.yaml: php-fpm has no check")
	}
	r := strings.NewReplacer("/data/conf/php-fpm", st.path("conf/php-fpm"),
		"/etc/php/8.2/fpm/php-fpm.conf", st.path("conf/php-fpm.conf"))
	for i := range check {
		check[i] = r.Replace(check[i])
	}
	return check
}

func countMatches(out, re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(out, -1))
}

// php-fpm runs as nobody here, as it runs as www in the image: a pool
// copied from Debian's gives its socket to www-data, which php-fpm -t
// accepts and the start refuses (exit 78). The shipped check names the
// file and the fix, php-fpm starts once, and the critical php-fpm stops
// phpinit with 78.
func TestStartCheckDebianPoolFatalOnce(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	os.Chmod(st.path("run"), 0o1777)
	os.Chmod(st.path("log"), 0o1777)
	writeConf(t, st.path("conf/php-fpm/debian.conf"), strings.ReplaceAll(debianPool, "{{RUN}}", st.path("run")))
	check, err := json.Marshal(shippedFPMCheck(t, st))
	if err != nil {
		t.Fatal(err)
	}
	editConf(t, st.config(), "    user: www-data\n    stop_timeout: 12s\n", "    user: nobody\n    stop_timeout: 12s\n")
	editConf(t, st.config(), "    check: [php-fpm8.2, -t, --fpm-config, "+st.path("conf/php-fpm.conf")+"]",
		"    check: "+string(check))
	p := startPID1(t, "run", "--config", st.config())
	if code := p.wait(90 * time.Second); code != supervisor.ExitConfigInvalid {
		t.Errorf("phpinit exited %d, want %d (a critical program's config is invalid)", code, supervisor.ExitConfigInvalid)
	}
	out := p.Out.String()
	if n := countMatches(out, `msg=started program=php-fpm `); n != 1 {
		t.Errorf("php-fpm started %d times, want once", n)
	}
	if n := countMatches(out, `msg=started program=nginx `); n != 0 {
		t.Errorf("nginx started %d times, want never", n)
	}
	if !strings.Contains(out, "failed to chown() the socket") {
		t.Error("php-fpm's own error is not in the log: was it the pool that failed?")
	}
	conf := regexp.QuoteMeta(st.path("conf/php-fpm/debian.conf"))
	line := `level=ERROR msg="config invalid: not retrying until it is fixed" program=php-fpm err="` + conf +
		`: listen.owner = www-data, but php-fpm runs as nobody .*delete the listen.owner line.*" file=` + conf
	if countMatches(out, line) != 1 {
		t.Errorf("no single config invalid line matching %s", line)
	}
	if strings.Contains(out, "backing off") || strings.Contains(out, "gave up: too many failed starts") {
		t.Error("a config error was retried")
	}
}

// A non-critical nginx whose site has an unknown directive is FATAL after
// one start, with nginx's line in ctl status, while phpinit and php-fpm
// stay up; fixing the file and `ctl reload nginx` starts it.
func TestStartCheckNginxErrorNonCritical(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	bad := st.path("conf/nginx/bad.conf")
	writeConf(t, bad, "bogus_directive on;\n")
	editConf(t, st.config(), "    depends_on: [php-fpm]\n", "    depends_on: [php-fpm]\n    critical: false\n")
	p := startPID1(t, "run", "--config", st.config())

	sn := waitCtlStatusFor(t, st, 60*time.Second, "nginx FATAL", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "nginx") == "FATAL"
	})
	ng, _ := sn.Program("nginx")
	if ng.LastExit == nil || !strings.HasPrefix(ng.LastExit.Desc, `config invalid: [emerg] unknown directive "bogus_directive" in `+bad+":1") {
		t.Errorf("--json last exit %+v, want nginx's line", ng.LastExit)
	}
	if progState(sn, "php-fpm") != "RUNNING" {
		t.Errorf("php-fpm is %s, want RUNNING", progState(sn, "php-fpm"))
	}
	if line := strings.Join(statusLine(t, st, "nginx"), " "); !strings.Contains(line, "FATAL") || !strings.Contains(line, "config invalid") {
		t.Errorf("ctl status line %q: want FATAL and config invalid", line)
	}
	out := p.Out.String()
	if n := countMatches(out, `msg=started program=nginx `); n != 1 {
		t.Errorf("nginx started %d times, want once", n)
	}
	if countMatches(out, `level=ERROR msg="config invalid: not retrying until it is fixed" program=nginx err=.* file=`+regexp.QuoteMeta(bad)+` then="phpinit ctl reload nginx"`) != 1 {
		t.Error("no single config invalid line naming the file")
	}
	if strings.Contains(out, "backing off") {
		t.Error("a config error was retried")
	}

	writeConf(t, bad, "# fixed\n")
	if out, code := runCtlBounded(t, st, 30*time.Second, "reload", "nginx"); code != 0 {
		t.Fatalf("ctl reload nginx: exit %d: %s", code, out)
	}
	waitCtlStatusFor(t, st, 30*time.Second, "nginx RUNNING", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "nginx") == "RUNNING"
	})
	waitHTTP(t, st.url("/index.php"), 200, 20*time.Second)
	select {
	case <-p.done:
		t.Errorf("phpinit exited %d", p.code)
	default:
	}
}

// php-fpm's own check finds the error (a socket owner that does not
// exist): a non-critical php-fpm is FATAL after one start with php-fpm's
// line, without its time stamp, in ctl status; phpinit stays up, and nginx,
// which depends on it, is not started.
func TestStartCheckFPMErrorNonCritical(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	f, err := os.OpenFile(st.path("conf/php-fpm/www.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("listen.owner = nosuchuser\n")
	f.Close()
	editConf(t, st.config(), "    stop_timeout: 12s\n", "    stop_timeout: 12s\n    critical: false\n")
	p := startPID1(t, "run", "--config", st.config())

	sn := waitCtlStatusFor(t, st, 60*time.Second, "php-fpm FATAL", func(sn *supervisor.Snapshot) bool {
		return progState(sn, "php-fpm") == "FATAL"
	})
	fpm, _ := sn.Program("php-fpm")
	if want := "config invalid: [pool www] cannot get uid for user 'nosuchuser'"; fpm.LastExit == nil || fpm.LastExit.Desc != want {
		t.Errorf("--json last exit %+v, want %q", fpm.LastExit, want)
	}
	if got := progState(sn, "nginx"); got != "STOPPED" {
		t.Errorf("nginx is %s, want STOPPED", got)
	}
	if line := strings.Join(statusLine(t, st, "php-fpm"), " "); !strings.Contains(line, "FATAL") || !strings.Contains(line, "config invalid: [pool www]") {
		t.Errorf("ctl status line %q: want FATAL and the reason", line)
	}
	out := p.Out.String()
	if n := countMatches(out, `msg=started program=php-fpm `); n != 1 {
		t.Errorf("php-fpm started %d times, want once", n)
	}
	if countMatches(out, `level=ERROR msg="config invalid: not retrying until it is fixed" program=php-fpm `) != 1 {
		t.Error("no single config invalid line")
	}
	select {
	case <-p.done:
		t.Errorf("phpinit exited %d", p.code)
	default:
	}
}

// A critical nginx with a config error stops phpinit with 78 (EX_CONFIG),
// though nginx itself exits 1.
func TestStartCheckNginxErrorCritical(t *testing.T) {
	needStack(t)
	st := newSite(t, site{})
	writeConf(t, st.path("conf/nginx/bad.conf"), "bogus_directive on;\n")
	p := startPID1(t, "run", "--config", st.config())
	if code := p.wait(90 * time.Second); code != supervisor.ExitConfigInvalid {
		t.Errorf("phpinit exited %d, want %d", code, supervisor.ExitConfigInvalid)
	}
	out := p.Out.String()
	if n := countMatches(out, `msg=started program=nginx `); n != 1 {
		t.Errorf("nginx started %d times, want once", n)
	}
	if countMatches(out, `msg=exited program=nginx pid=\d+ status="exit status 1"`) != 1 {
		t.Error("nginx did not exit 1")
	}
	if !strings.Contains(out, `then="start phpinit again: nginx is critical"`) {
		t.Error("the config invalid line does not say phpinit stops")
	}
}
