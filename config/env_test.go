package config

import (
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"
)

const envBase = `
programs:
  nginx:
    command: [nginx]
    environment: {APP_ENV: prod, KEEP: "1"}
  php-fpm:
    command: [php-fpm]
    depends_on: [nginx]
`

func TestEnvOverrides(t *testing.T) {
	c, err := loadOffline(t, envBase,
		"PATH=/usr/bin",
		"PHPINIT_SHUTDOWN_GRACE=40s",
		"PHPINIT_HTTP_LISTEN=", // an empty value counts: disables the listener
		"PHPINIT_HTTP_ENABLE_LIFECYCLE=true",
		"PHPINIT_LOG_LEVEL=debug",
		"PHPINIT_LOG_LEVEL=error", // the first of duplicates wins, as with getenv
		"PHPINIT_PROGRAMS_NGINX_STOP_TIMEOUT=3s",
		"PHPINIT_PROGRAMS_NGINX_COMMAND=nginx -g daemon\toff;",
		"PHPINIT_PROGRAMS_NGINX_BACKOFF_MAX=1m",
		"PHPINIT_PROGRAMS_NGINX_CRITICAL=false",
		"PHPINIT_PROGRAMS_NGINX_START_RETRIES=2",
		"PHPINIT_PROGRAMS_NGINX_STOP_SIGNAL=term",
		"PHPINIT_PROGRAMS_NGINX_STDOUT_MAX_SIZE=1MiB",
		"PHPINIT_PROGRAMS_NGINX_ENVIRONMENT_APP_ENV=staging",
		"PHPINIT_PROGRAMS_NGINX_ENVIRONMENT_NEW=x",
		"PHPINIT_PROGRAMS_NGINX_READY_TCP=127.0.0.1:80",
		"PHPINIT_PROGRAMS_PHP_FPM_STOP_TIMEOUT=4s",
		"PHPINIT_PROGRAMS_PHP_FPM_DEPENDS_ON=",
		"PHPINIT_PROGRAMS_REDIS_COMMAND=redis-server", // not in the file: ignored
		"PHPINIT_CONFIG=/elsewhere.yaml",
		"PHPINIT_WHATEVER=1",
		"OTHER_SHUTDOWN_GRACE=1s",
	)
	if err != nil {
		t.Fatal(err)
	}
	if c.Shutdown.Grace != 40*time.Second || c.HTTP.Listen != "" || !c.HTTP.EnableLifecycle || c.Log.Level != "debug" {
		t.Errorf("top level = %+v %+v %+v", c.Shutdown, c.HTTP, c.Log)
	}
	n := c.Programs["nginx"]
	if n.StopTimeout != 3*time.Second || n.Backoff.Max != time.Minute || n.Backoff.Initial != 200*time.Millisecond ||
		n.IsCritical() || n.Retries() != 2 || n.StopSignal != Signal(syscall.SIGTERM) || n.StdoutMaxSize != 1<<20 {
		t.Errorf("nginx = %+v", n)
	}
	if want := []string{"nginx", "-g", "daemon", "off;"}; !reflect.DeepEqual(n.Command, want) {
		t.Errorf("command = %q, want %q", n.Command, want)
	}
	if want := map[string]string{"APP_ENV": "staging", "KEEP": "1", "NEW": "x"}; !reflect.DeepEqual(n.Environment, want) {
		t.Errorf("environment = %v, want %v", n.Environment, want)
	}
	if want := defaultProbe(false); n.Ready == nil || n.Ready.TCP != "127.0.0.1:80" || n.Ready.Interval != want.Interval {
		t.Errorf("ready = %+v", n.Ready)
	}
	f := c.Programs["php-fpm"]
	if f.StopTimeout != 4*time.Second || f.DependsOn != nil {
		t.Errorf("php-fpm = %+v", f)
	}
	if _, ok := c.Programs["redis"]; ok || len(c.Programs) != 2 {
		t.Errorf("programs = %v", c.Programs)
	}
}

func TestEnvProgramNameForms(t *testing.T) {
	body := "programs: {php-fpm: {command: [p]}, web.v2: {command: [w]}}"
	c, err := loadOffline(t, body,
		"PHPINIT_PROGRAMS_PHP_FPM_STOP_TIMEOUT=4s",
		"PHPINIT_PROGRAMS_PHP-FPM_STOP_TIMEOUT=5s", // the literal form wins
		"PHPINIT_PROGRAMS_WEB_V2_STOP_TIMEOUT=6s",
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Programs["php-fpm"].StopTimeout; got != 5*time.Second {
		t.Errorf("php-fpm stop_timeout = %s, want 5s", got)
	}
	if got := c.Programs["web.v2"].StopTimeout; got != 6*time.Second {
		t.Errorf("web.v2 stop_timeout = %s, want 6s", got)
	}
	c, err = loadOffline(t, body, "PHPINIT_PROGRAMS_PHP_FPM_STOP_TIMEOUT=4s")
	if err != nil || c.Programs["php-fpm"].StopTimeout != 4*time.Second {
		t.Errorf("underscore form: %v, %v", c.Programs["php-fpm"].StopTimeout, err)
	}
}

func TestEnvWithoutFile(t *testing.T) {
	c, err := Load(Options{Environ: []string{"PHPINIT_HTTP_LISTEN=:8080", "PHPINIT_PROGRAMS_NGINX_COMMAND=nginx"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != ":8080" || len(c.Programs) != 0 || c.File != "" {
		t.Errorf("config = %+v", c)
	}
}

func TestEnvBadValuesNameTheVariable(t *testing.T) {
	_, err := loadOffline(t, envBase,
		"PHPINIT_SHUTDOWN_GRACE=forever",
		"PHPINIT_LOG_FORMAT=xml",
		"PHPINIT_PROGRAMS_NGINX_STOP_SIGNAL=QUITE",
		"PHPINIT_PROGRAMS_NGINX_START_RETRIES=some",
		"PHPINIT_PROGRAMS_PHP-FPM_AUTORESTART=sometimes",
	)
	wantProblems(t, err,
		`log.format: "xml" is not text or json (from PHPINIT_LOG_FORMAT)`,
		`programs.nginx.start_retries: invalid integer "some" (from PHPINIT_PROGRAMS_NGINX_START_RETRIES)`,
		`programs.nginx.stop_signal: unknown signal "QUITE" (from PHPINIT_PROGRAMS_NGINX_STOP_SIGNAL)`,
		`programs.php-fpm.autorestart: "sometimes" is not always, on-failure, never or unexpected (from PHPINIT_PROGRAMS_PHP-FPM_AUTORESTART)`,
		`shutdown.grace: invalid duration "forever" (from PHPINIT_SHUTDOWN_GRACE)`,
	)
}

func TestEnvEmptyValues(t *testing.T) {
	c, err := loadOffline(t, envBase,
		"PHPINIT_CONTROL_SOCKET=",
		"PHPINIT_METRICS_NGINX=",
		"PHPINIT_PROGRAMS_NGINX_COMMAND=",
	)
	wantProblems(t, err, "programs.nginx.command: required (from PHPINIT_PROGRAMS_NGINX_COMMAND)")
	if c.Control.Socket != "" {
		t.Errorf("control.socket = %q, want empty", c.Control.Socket)
	}
}

func TestEnvDoesNotOverrideAValueOfTheWrongShape(t *testing.T) {
	_, err := loadOffline(t, "programs: {web: {command: [w], backoff: 5}}", "PHPINIT_PROGRAMS_WEB_BACKOFF_MAX=1s")
	wantProblems(t, err, "programs.web.backoff: expected a mapping, got 5")
}

func TestUnknownEnv(t *testing.T) {
	environ := []string{
		"PHPINIT_SHUTDOWN_GRAEC=40s",
		"PHPINIT_SHUTDOWN_GRACE=40s",
		"PHPINIT_CONFIG=/x.yaml",
		"PHPINIT_PROGRAMS_PHP_FPM_STOP_TIMOUT=3s",
		"PHPINIT_PROGRAMS_PHP-FPM_STOP_TIMEOUT=3s",
		"PHPINIT_PROGRAMS_NGINX_ENVIRONMENT_APP_ENV=prod",
		"PHPINIT_PROGRAMS_REDIS_COMMAND=redis-server",
		"PHPINIT_WHATEVER=1",
		"PHPINIT_DEMO_PORT=8090",
		"NOT_PHPINIT_SHUTDOWN_GRAEC=1",
	}
	got := UnknownEnv(environ, []string{"php-fpm", "nginx"})
	want := []string{
		"PHPINIT_PROGRAMS_PHP_FPM_STOP_TIMOUT is no phpinit setting: ignored (did you mean PHPINIT_PROGRAMS_PHP_FPM_STOP_TIMEOUT?)",
		"PHPINIT_PROGRAMS_REDIS_COMMAND is no phpinit setting: ignored (only programs in the config file can be overridden: nginx, php-fpm)",
		"PHPINIT_SHUTDOWN_GRAEC is no phpinit setting: ignored (did you mean PHPINIT_SHUTDOWN_GRACE?)",
		"PHPINIT_WHATEVER is no phpinit setting: ignored",
	}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownEnv:\n got %q\nwant %q", got, want)
	}
	if w := UnknownEnv([]string{"PHPINIT_LOG_LEVEL=debug", "PATH=/bin"}, nil); len(w) != 0 {
		t.Errorf("known variables warned about: %q", w)
	}
}
