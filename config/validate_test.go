package config

import (
	"slices"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"log format", "log: {format: xml}", []string{`log.format: "xml" is not text or json`}},
		{"log level", "log: {level: verbose}", []string{`log.level: "verbose" is not debug, info, warn or error`}},
		{"hooks on_error", "hooks: {on_error: ignore}", []string{`hooks.on_error: "ignore" is not abort or continue`}},
		{"hooks timeout", "hooks: {timeout: -1s}", []string{`hooks.timeout: must not be negative, got -1s`}},
		{"hooks timeout zero", "hooks: {timeout: 0s}", nil},
		{"grace zero", "shutdown: {grace: 0s}", []string{`shutdown.grace: must be positive, got 0s`}},
		{"drain", "shutdown: {drain: -2s}", []string{`shutdown.drain: must not be negative, got -2s`}},
		{"watch", "watch: {debounce: -1ms, poll_interval: -1s}", []string{
			`watch.debounce: must not be negative, got -1ms`, `watch.poll_interval: must not be negative, got -1s`}},
		{"listen no port", `http: {listen: "9180"}`, []string{`http.listen: "9180" is not host:port`}},
		{"listen named port", `http: {listen: "localhost:http"}`, []string{`http.listen: "localhost:http" is not host:port`}},
		{"listen ok", `http: {listen: "[::1]:0"}`, nil},
		{"listen off", `http: {listen: ""}`, nil},
		{"metrics", `metrics: {phpfpm: [{address: "127.0.0.1:9000", path: status}, {address: "tcp://php:9000"}], nginx: "localhost/stub"}`,
			[]string{
				`metrics.nginx: "localhost/stub" is not an http or https URL`,
				`metrics.phpfpm[0].address: "127.0.0.1:9000" is not unix:///absolute/path or tcp://host:port`,
				`metrics.phpfpm[0].path: "status" does not start with /`,
			}},
		{"max connections", `http: {max_connections: 0}`, []string{`http.max_connections: must be at least 1, got 0`}},
		{"metrics pool and listen", `metrics: {phpfpm: [{address: "unix:///s", pool: www, listen: "tcp://a:1"}, {address: "tcp://b:9000", pool: www, listen: "unix:///p"}]}`,
			[]string{
				`metrics.phpfpm[0].listen: "tcp://a:1" is not unix:///absolute/path`,
				`metrics.phpfpm[1].pool: pool "www" is named twice`,
			}},
		{"program name", "programs: {-web: {command: [w]}, web.1_a-b: {command: [w]}}", []string{
			`programs.-web: invalid program name: use letters, digits, "_", "." and "-", starting with a letter or digit`}},
		{"program name space", "programs: {web server: {command: [w]}}", []string{
			`programs.web server: invalid program name: use letters, digits, "_", "." and "-", starting with a letter or digit`}},
		{"command missing", "programs: {web: {user: x}}", []string{`programs.web.command: required`}},
		{"command null program", "programs: {web: }", []string{`programs.web.command: required`}},
		{"command empty argv0", `programs: {web: {command: [""]}}`, []string{`programs.web.command: argv[0] is empty`}},
		{"autorestart", "programs: {web: {command: [w], autorestart: sometimes}}", []string{
			`programs.web.autorestart: "sometimes" is not always, on-failure, never or unexpected`}},
		{"exitcodes and autorestart unexpected", "programs: {web: {command: [w], autorestart: unexpected, exitcodes: [0, 3, 256, -1]}}", []string{
			`programs.web.exitcodes[2]: 256 is not an exit status (0 to 255)`,
			`programs.web.exitcodes[3]: -1 is not an exit status (0 to 255)`}},
		{"start_timeout", "programs: {web: {command: [w], ready: {tcp: 'a:1', start_timeout: -1s}, live: {tcp: 'a:1', start_timeout: 5s}}}", []string{
			`programs.web.live.start_timeout: only a ready probe has a start timeout`,
			`programs.web.ready.start_timeout: must not be negative, got -1s`}},
		{"on_change", "programs: {web: {command: [w], on_change: rebuild}}", []string{
			`programs.web.on_change: "rebuild" is not reload or restart`}},
		{"on_change reload", "programs: {web: {command: [w], on_change: reload}}", []string{
			`programs.web.on_change: on_change reload needs reload_signal`}},
		{"start", "programs: {web: {command: [w], start_retries: -1, start_seconds: -1s}}", []string{
			`programs.web.start_retries: must not be negative, got -1`,
			`programs.web.start_seconds: must not be negative, got -1s`}},
		{"backoff initial", "programs: {web: {command: [w], backoff: {initial: 0s}}}", []string{
			`programs.web.backoff.initial: must be positive, got 0s`}},
		{"backoff max", "programs: {web: {command: [w], backoff: {initial: 1s, max: 100ms}}}", []string{
			`programs.web.backoff.max: 100ms is less than backoff.initial 1s`}},
		{"stop", `programs: {web: {command: [w], stop_signal: "", stop_timeout: 0s}}`, []string{
			`programs.web.stop_signal: required`, `programs.web.stop_timeout: must be positive, got 0s`}},
		{"stdout relative", "programs: {web: {command: [w], stdout: logs/out.log, stderr: /var/log/err.log}}", []string{
			`programs.web.stdout: "logs/out.log" is not inherit, prefix, json, discard or an absolute path`}},
		{"stderr", "programs: {web: {command: [w], stdout: json, stderr: text}}", []string{
			`programs.web.stderr: "text" is not inherit, prefix, json, discard or an absolute path`}},
		{"backups", "programs: {web: {command: [w], stdout_backups: -1}}", []string{
			`programs.web.stdout_backups: must be at least 0, got -1`}},
		{"capabilities", "programs: {web: {command: [w], capabilities: [NET_BIND, cap_net_bind_service, CAP_SETUID]}}", []string{
			`programs.web.capabilities: unknown capability "NET_BIND"`}},
		{"depends_on self", "programs: {web: {command: [w], depends_on: [web]}}", []string{
			`programs.web.depends_on: depends on itself`}},
		{"depends_on unknown", "programs: {web: {command: [w], depends_on: [php]}}", []string{
			`programs.web.depends_on: unknown program "php"`}},
		{"cycle of two", "programs: {php-fpm: {command: [p], depends_on: [nginx]}, nginx: {command: [n], depends_on: [php-fpm]}}", []string{
			`programs.nginx.depends_on: dependency cycle nginx -> php-fpm -> nginx`}},
		{"cycle of three", `programs: {c: {command: [c], depends_on: [a]}, b: {command: [b], depends_on: [c]},
			a: {command: [a], depends_on: [b]}, d: {command: [d], depends_on: [a]}}`, []string{
			`programs.a.depends_on: dependency cycle a -> b -> c -> a`}},
		{"check", `programs: {web: {command: [w], check: [""]}}`, []string{`programs.web.check: argv[0] is empty`}},
		{"watch", "programs: {web: {command: [w], watch: [/etc/nginx, conf/nginx]}}", []string{
			`programs.web.watch[1]: "conf/nginx" is not an absolute path`}},
		{"environment", `programs: {web: {command: [w], environment: {"A=B": x, "": y, OK: z}}}`, []string{
			`programs.web.environment.: invalid variable name ""`,
			`programs.web.environment.A=B: invalid variable name "A=B"`}},
		{"probe none", "programs: {web: {command: [w], ready: {}}}", []string{
			`programs.web.ready: needs one of fastcgi, http, tcp or exec`}},
		{"probe two", `programs: {web: {command: [w], live: {http: "http://a/", tcp: "a:1"}}}`, []string{
			`programs.web.live: has http and tcp; set exactly one`}},
		{"probe fastcgi", `programs: {web: {command: [w], ready: {fastcgi: "/run/php.sock", path: ping}}}`, []string{
			`programs.web.ready.fastcgi: "/run/php.sock" is not unix:///absolute/path or tcp://host:port`,
			`programs.web.ready.path: "ping" does not start with /`}},
		{"probe fastcgi relative unix", `programs: {web: {command: [w], ready: {fastcgi: "unix://run/php.sock"}}}`, []string{
			`programs.web.ready.fastcgi: "unix://run/php.sock" is not unix:///absolute/path or tcp://host:port`}},
		{"probe fastcgi tcp", `programs: {web: {command: [w], ready: {fastcgi: "tcp://127.0.0.1:9000"}}}`, nil},
		{"probe http", `programs: {web: {command: [w], ready: {http: "ftp://a/x", expect_status: 99}}}`, []string{
			`programs.web.ready.expect_status: 99 is not an HTTP status`,
			`programs.web.ready.http: "ftp://a/x" is not an http or https URL`}},
		{"probe tcp", `programs: {web: {command: [w], ready: {tcp: localhost}, live: {tcp: "a:0"}}}`, []string{
			`programs.web.live.tcp: "a:0" is not host:port`,
			`programs.web.ready.tcp: "localhost" is not host:port`}},
		{"probe exec", `programs: {web: {command: [w], ready: {exec: [""]}}}`, []string{
			`programs.web.ready.exec: argv[0] is empty`}},
		{"probe numbers", `programs: {web: {command: [w], ready: {tcp: ":80", interval: 0s, timeout: -1s, failure_threshold: 0, success_threshold: 0}}}`, []string{
			`programs.web.ready.failure_threshold: must be at least 1, got 0`,
			`programs.web.ready.interval: must be positive, got 0s`,
			`programs.web.ready.success_threshold: must be at least 1, got 0`,
			`programs.web.ready.timeout: must be positive, got -1s`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadOffline(t, tc.body)
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("%s\n got  %q\n want %q", tc.body, got, tc.want)
			}
		})
	}
}

func TestValidateThreeAtOnce(t *testing.T) {
	_, err := loadOffline(t, `
log: {level: loud}
programs:
  nginx:
    command: [nginx]
    autorestart: maybe
    ready: {tcp: nowhere}
`)
	wantProblems(t, err,
		`log.level: "loud" is not debug, info, warn or error`,
		`programs.nginx.autorestart: "maybe" is not always, on-failure, never or unexpected`,
		`programs.nginx.ready.tcp: "nowhere" is not host:port`,
	)
}
