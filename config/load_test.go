package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
)

// fullConfig is the shipped shape: php-fpm, then nginx in front of it.
const fullConfig = `
log: {format: json, level: debug}
shutdown: {grace: 20s, drain: 2s}
programs:
  php-fpm:
    command: [php-fpm, -F, -O]
    reload_signal: USR2
    check: [php-fpm, -t]
    stdout: /var/log/php/out.log
    stdout_max_size: 5MB
    ready: {fastcgi: "unix:///run/php/php-fpm.sock"}
    live: {fastcgi: "tcp://127.0.0.1:9000", path: /status}
  nginx:
    command: [nginx, -g, "daemon off;"]
    depends_on: [php-fpm]
    reload_signal: HUP
    reopen_signal: USR1
    capabilities: [NET_BIND_SERVICE]
    environment: {APP_ENV: prod, Mixed_Case: "1"}
    watch: [/etc/nginx]
    critical: false
    start_retries: 0
    ready: {http: "http://127.0.0.1:8080/ping", interval: 2s}
  cron:
    command: [crond, -f]
    autorestart: on-failure
    stop_signal: TERM
metrics:
  phpfpm: [{address: "unix:///run/php/php-fpm.sock"}]
  nginx: http://127.0.0.1:8080/stub_status
http: {listen: "127.0.0.1:9180", enable_lifecycle: true}
`

func TestLoadNoFileIsDefaults(t *testing.T) {
	for _, o := range []Options{
		{},
		{Path: filepath.Join(t.TempDir(), "missing.yaml"), AllowMissing: true},
	} {
		c, err := Load(o)
		if err != nil {
			t.Fatalf("Load(%+v): %v", o, err)
		}
		if !reflect.DeepEqual(c, Defaults()) {
			t.Errorf("Load(%+v) = %+v, want Defaults()", o, c)
		}
	}
	d := Defaults()
	if d.Programs == nil || len(d.Programs) != 0 {
		t.Errorf("Programs = %v, want empty", d.Programs)
	}
	want := &Config{
		Log:         Log{Format: "text", Level: "info"},
		Hooks:       Hooks{Script: "/data/script/script.sh", Dir: "/data/script/init.d", Timeout: time.Minute, OnError: "abort"},
		Shutdown:    Shutdown{Grace: 9 * time.Second},
		Programs:    map[string]*Program{},
		Watch:       Watch{Debounce: 500 * time.Millisecond, MaxFiles: 10000, MaxBytes: 64 << 20},
		Control:     Control{Socket: "/run/phpinit/phpinit.sock"},
		HTTP:        HTTP{Listen: ":9180", MaxConnections: 64},
		Supervisord: Supervisord{Include: []string{"/data/conf/supervisord/*.conf"}},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Defaults() = %+v", d)
	}
}

func TestLoadProgramDefaults(t *testing.T) {
	c, err := loadOffline(t, `
programs:
  web:
    command: [web]
    ready: {fastcgi: "unix:///run/web.sock"}
    live: {http: "http://localhost/"}
  hupper:
    command: [hupper]
    reload_signal: HUP
`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Program{
		Name: "web", Command: []string{"web"}, Critical: ptr(true), NoNewPrivs: ptr(true), Autorestart: "always",
		StartSeconds: time.Second, StartRetries: ptr(5),
		Backoff:    Backoff{Initial: 200 * time.Millisecond, Max: 30 * time.Second},
		StopSignal: Signal(syscall.SIGQUIT), StopTimeout: 8 * time.Second, OnChange: "restart",
		Stdout: "inherit", Stderr: "inherit", StdoutMaxSize: 10 << 20, StderrMaxSize: 10 << 20,
		StdoutBackups: 5, StderrBackups: 5,
		NumProcs: 1, ExitCodes: []int{0}, Autostart: ptr(true), ProcessGroup: "web",
		Ready: &Probe{FastCGI: "unix:///run/web.sock", Path: "/ping", Interval: time.Second,
			Timeout: time.Second, FailureThreshold: 3, SuccessThreshold: 1, StartTimeout: time.Minute},
		Live: &Probe{HTTP: "http://localhost/", ExpectStatus: 200, Interval: 10 * time.Second,
			Timeout: time.Second, FailureThreshold: 5, SuccessThreshold: 1},
	}
	if got := c.Programs["web"]; !reflect.DeepEqual(got, want) {
		t.Errorf("web =\n %+v\nwant\n %+v", got, want)
	}
	if got := c.Programs["hupper"]; got.OnChange != "reload" || got.Ready != nil || got.Live != nil {
		t.Errorf("hupper: on_change %q, ready %v, live %v; want reload, nil, nil", got.OnChange, got.Ready, got.Live)
	}
	if !c.Programs["web"].IsCritical() || c.Programs["web"].Retries() != 5 {
		t.Error("IsCritical/Retries defaults wrong")
	}
}

func TestLoadFullConfig(t *testing.T) {
	path := writeConfig(t, fullConfig)
	c, err := Load(Options{Path: path, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.File != path || c.Log.Format != "json" || c.Shutdown.Drain != 2*time.Second || !c.HTTP.EnableLifecycle {
		t.Errorf("top level not decoded: %+v", c)
	}
	n := c.Programs["nginx"]
	if n.Name != "nginx" || n.IsCritical() || n.Retries() != 0 || n.ReopenSignal != Signal(syscall.SIGUSR1) ||
		n.OnChange != "reload" || n.Ready.Interval != 2*time.Second {
		t.Errorf("nginx = %+v", n)
	}
	// Environment keys keep their case (viper would lower-case them).
	if !reflect.DeepEqual(n.Environment, map[string]string{"APP_ENV": "prod", "Mixed_Case": "1"}) {
		t.Errorf("environment = %v", n.Environment)
	}
	if f := c.Programs["php-fpm"]; f.StdoutMaxSize != 5e6 || f.Live.Path != "/status" || f.Ready.Path != "/ping" {
		t.Errorf("php-fpm = %+v", f)
	}
	if cr := c.Programs["cron"]; cr.StopSignal != Signal(syscall.SIGTERM) || cr.OnChange != "restart" {
		t.Errorf("cron = %+v", cr)
	}
	if c.Metrics.PHPFPM[0].Path != "/status" {
		t.Errorf("metrics.phpfpm[0].path = %q, want /status", c.Metrics.PHPFPM[0].Path)
	}
	if l := c.Metrics.PHPFPM[0].Listen; l != "unix:///run/php/php-fpm.sock" {
		t.Errorf("metrics.phpfpm[0].listen = %q, want the unix address", l)
	}
}

func TestLoadEmptyAndNullValues(t *testing.T) {
	for _, body := range []string{"", "# nothing\n", "programs:\n", "programs: {}\n", "log:\n"} {
		c, err := loadOffline(t, body)
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if len(c.Programs) != 0 || c.Log.Level != "info" {
			t.Errorf("%q: %+v", body, c)
		}
	}
	// A probe written as null is no probe.
	c, err := loadOffline(t, "programs: {web: {command: [web], ready: null, command_x: 1}}")
	wantProblems(t, err, "programs.web.command_x: unknown key")
	if c.Programs["web"].Ready != nil {
		t.Errorf("ready = %+v, want nil", c.Programs["web"].Ready)
	}
}

func TestLoadFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(Options{Path: missing})
	wantFull(t, err, missing+": cannot read config: no such file or directory")

	dir := t.TempDir()
	_, err = Load(Options{Path: dir, AllowMissing: true})
	wantFull(t, err, dir+": cannot read config: not a regular file (a directory)")

	path := writeConfig(t, "log:\n  level: debug\n bad: [\n")
	c, err := Load(Options{Path: path, Offline: true})
	wantFull(t, err, path+": line 2: did not find expected key")
	if c == nil || c.Log.Level != "info" {
		t.Errorf("config after syntax error = %+v, want defaults", c)
	}

	path = writeConfig(t, "a: 1\na: 2\n")
	_, err = Load(Options{Path: path})
	wantFull(t, err, path+`: line 2: mapping key "a" already defined at line 1`)

	path = writeConfig(t, "- a\n- b\n")
	_, err = Load(Options{Path: path})
	wantFull(t, err, path+": expected a mapping of keys at the top, got a list")
}

// wantFull compares the complete error text, file names included.
func wantFull(t *testing.T, err error, want ...string) {
	t.Helper()
	var got []string
	var me *multierror.Error
	if errors.As(err, &me) {
		for _, e := range me.Errors {
			got = append(got, e.Error())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got  %q\n want %q", got, want)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	path := writeConfig(t, `
shutdown:
  grace: 9 seconds
programs:
  nginx:
    command: [nginx]
    stop_signal: QUITE
    depends_on: [php]
  php-fpm:
    command: [php-fpm]
    autorestrat: always
`)
	c, err := Load(Options{Path: path, Offline: true})
	wantFull(t, err,
		path+`: programs.nginx.depends_on: unknown program "php"`,
		path+`: programs.nginx.stop_signal: unknown signal "QUITE"`,
		path+`: programs.php-fpm.autorestrat: unknown key`,
		path+`: shutdown.grace: invalid duration "9 seconds"`,
	)
	if want := fmt.Sprintf("%s: programs.nginx.depends_on: unknown program \"php\"\n", path); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Error() = %q, want one problem per line", err.Error())
	}
	// Decoded as far as possible: bad values keep their defaults.
	if c.Programs["nginx"].StopSignal != Signal(syscall.SIGQUIT) || c.Shutdown.Grace != 9*time.Second ||
		c.Programs["php-fpm"].Command[0] != "php-fpm" {
		t.Errorf("config not decoded as far as possible: %+v", c)
	}
}

func TestLoadUnknownKeys(t *testing.T) {
	_, err := loadOffline(t, `
logs: {level: debug}
Log: {level: debug}
hooks: {scrpt: x}
http: {listen: ":1", tls: true}
metrics:
  phpfpm: [{address: "unix:///a.sock", adress: x}]
programs:
  web:
    command: [web]
    backoff: {inital: 1s}
    ready: {tcp: ":80", intervall: 2s}
    live: {exec: [true], tcp_x: 1}
    environment: {ANY_KEY: fine}
`)
	wantProblems(t, err,
		"Log: unknown key",
		"hooks.scrpt: unknown key",
		"http.tls: unknown key",
		"logs: unknown key",
		"metrics.phpfpm[0].adress: unknown key",
		"programs.web.backoff.inital: unknown key",
		"programs.web.live.tcp_x: unknown key",
		"programs.web.ready.intervall: unknown key",
	)
}

func TestLoadDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string
	}{
		{"shutdown: {grace: 9}", []string{`shutdown.grace: invalid duration "9" (needs a unit, as in "9s")`}},
		{"shutdown: {grace: [1]}", []string{`shutdown.grace: invalid duration a list`}},
		{"shutdown: {drain: 0}", nil},
		{"log: debug", []string{`log: expected a mapping, got "debug"`}},
		{"programs: [a, b]", []string{`programs: expected a mapping, got a list`}},
		{"programs: {web: nginx}", []string{`programs.web: expected a mapping, got "nginx"`, `programs.web.command: required`}},
		{"programs: {web: {command: nginx -g x}}", []string{
			`programs.web.command: expected a list, got "nginx -g x"`, `programs.web.command: required`}},
		{"programs: {web: {command: [w], start_retries: many}}", []string{`programs.web.start_retries: invalid integer "many"`}},
		{"programs: {web: {command: [w], critical: maybe}}", []string{`programs.web.critical: invalid boolean "maybe"`}},
		{"programs: {web: {command: [w], environment: {A: [1]}}}", []string{`programs.web.environment.A: expected a string, got a list`}},
		{"programs: {web: {command: [w], environment: [A]}}", []string{`programs.web.environment: expected a mapping, got a list`}},
		{"programs: {web: {command: [w], stop_signal: 99}}", []string{`programs.web.stop_signal: unknown signal "99"`}},
		{"programs: {web: {command: [w], stop_signal: 15, reload_signal: sighup}}", nil},
		{"programs: {web: {command: [w], stop_signal: {a: 1}}}", []string{`programs.web.stop_signal: invalid signal a mapping`}},
		{"programs: {web: {command: [w], stdout_max_size: ten}}", []string{`programs.web.stdout_max_size: invalid size "ten"`}},
		{"programs: {web: {command: [w], stdout_max_size: 1048576, stderr_max_size: 10 MB}}", nil},
		{"programs: {web: {command: [w], stdout_max_size: 1.5}}", []string{`programs.web.stdout_max_size: invalid size 1.5`}},
		{"programs: {web: {command: [w], user: 1000}}", nil},
		{"programs: {web: {command: [w], stop_signal: QUITE, start_retries: x, stop_timeout: 9 seconds}}", []string{
			`programs.web.start_retries: invalid integer "x"`,
			`programs.web.stop_signal: unknown signal "QUITE"`,
			`programs.web.stop_timeout: invalid duration "9 seconds"`}},
		{"programs: {web: {command: [w, [x]]}}", []string{`programs.web.command[1]: expected a string, got a list`}},
	} {
		_, err := loadOffline(t, tc.body)
		got := problemsOf(t, err)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got  %q\n want %q", tc.body, got, tc.want)
		}
	}
}

func TestLoadEnvironmentScalars(t *testing.T) {
	c, err := loadOffline(t, "programs: {web: {command: [w, 80], environment: {DEBUG: true, PORT: 8080, RATIO: 0.5, EMPTY: ''}}}")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DEBUG": "true", "PORT": "8080", "RATIO": "0.5", "EMPTY": ""}
	if got := c.Programs["web"].Environment; !reflect.DeepEqual(got, want) {
		t.Errorf("environment = %q, want %q", got, want)
	}
	if got := c.Programs["web"].Command; !slices.Equal(got, []string{"w", "80"}) {
		t.Errorf("command = %q", got)
	}
}

func TestLoadErrorIsNilInterface(t *testing.T) {
	_, err := loadOffline(t, fullConfig)
	if err != nil {
		t.Fatalf("err = %#v, want untyped nil", err)
	}
}
