// Package config turns phpinit.yaml (plus PHPINIT_* environment overrides)
// into typed structs, and validates them, reporting every problem at once.
//
// The key names here are the public contract: users' files and scripts rely
// on them. Add keys; never rename one.
package config

import (
	"syscall"
	"time"
)

// Config is the whole phpinit.yaml.
type Config struct {
	// File is the path the config was read from; "" when defaults only.
	File string `mapstructure:"-" yaml:"-" json:"-"`

	Log      Log                 `mapstructure:"log" yaml:"log" json:"log"`
	Hooks    Hooks               `mapstructure:"hooks" yaml:"hooks" json:"hooks"`
	Shutdown Shutdown            `mapstructure:"shutdown" yaml:"shutdown" json:"shutdown"`
	Programs map[string]*Program `mapstructure:"programs" yaml:"programs" json:"programs"`
	Watch    Watch               `mapstructure:"watch" yaml:"watch" json:"watch"`
	Control  Control             `mapstructure:"control" yaml:"control" json:"control"`
	HTTP     HTTP                `mapstructure:"http" yaml:"http" json:"http"`
	Metrics  Metrics             `mapstructure:"metrics" yaml:"metrics" json:"metrics"`

	Supervisord Supervisord `mapstructure:"supervisord" yaml:"supervisord" json:"supervisord"`
	// Notices are what reading supervisord files found that is not an
	// error: ignored sections and keys (info), unknown keys (warn).
	Notices []Notice `mapstructure:"-" yaml:"-" json:"-"`
}

// Log configures phpinit's own log (on stderr).
type Log struct {
	// Format is "text" (default) or "json".
	Format string `mapstructure:"format" yaml:"format" json:"format"`
	// Level is debug, info (default), warn or error.
	Level string `mapstructure:"level" yaml:"level" json:"level"`
}

// Hooks are run once, before any program starts.
type Hooks struct {
	// Script is sourced with bash (sh without bash) if it exists; the
	// variables it exports reach every program. Default /data/script/script.sh.
	Script string `mapstructure:"script" yaml:"script" json:"script"`
	// Dir holds executables run in lexical order after Script.
	// Default /data/script/init.d; a missing directory is skipped.
	Dir string `mapstructure:"dir" yaml:"dir" json:"dir"`
	// Timeout bounds each hook; default 60s; 0 means no limit.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout" json:"timeout"`
	// OnError is "abort" (default: phpinit exits with the hook's status)
	// or "continue" (log and go on).
	OnError string `mapstructure:"on_error" yaml:"on_error" json:"on_error"`
}

// Shutdown bounds a stop.
type Shutdown struct {
	// Grace is the whole stop budget; default 9s (under docker stop's 10s).
	// When it runs out, every process left gets SIGKILL.
	Grace time.Duration `mapstructure:"grace" yaml:"grace" json:"grace"`
	// Drain is how long /readyz answers 503 before programs are stopped;
	// default 0 (stop at once).
	Drain time.Duration `mapstructure:"drain" yaml:"drain" json:"drain"`
}

// Program is one supervised program, keyed by its name in Config.Programs.
type Program struct {
	// Name is the key under programs; filled by Load.
	Name string `mapstructure:"-" yaml:"-" json:"-"`

	// Command is argv; argv[0] is looked up on the program's PATH. Required.
	Command []string `mapstructure:"command" yaml:"command" json:"command"`
	// User to run as when phpinit is root; "" keeps phpinit's own user.
	User string `mapstructure:"user" yaml:"user" json:"user"`
	// Group defaults to User's primary group.
	Group string `mapstructure:"group" yaml:"group" json:"group"`
	// Directory is the working directory; "" keeps phpinit's.
	Directory string `mapstructure:"directory" yaml:"directory" json:"directory"`
	// Environment is added last (wins over phpinit's env and hook exports).
	Environment map[string]string `mapstructure:"environment" yaml:"environment" json:"environment"`
	// RuntimeDirectory lists directories created (when missing) before
	// the program starts, owned by its user and group, mode 0755, like
	// systemd's RuntimeDirectory=: a tmpfs /run starts empty, and neither
	// nginx nor php-fpm creates the directory of its pid file or socket.
	RuntimeDirectory []string `mapstructure:"runtime_directory" yaml:"runtime_directory,omitempty" json:"runtime_directory,omitempty"`
	// Capabilities are ambient capabilities for a non-root program, by
	// name with or without CAP_ (e.g. NET_BIND_SERVICE). For a program that
	// runs as a non-root user they are also its whole capability bounding
	// set (and its check's and exec probes'): nothing it execs,
	// setuid-root binaries included, gets any other.
	Capabilities []string `mapstructure:"capabilities" yaml:"capabilities" json:"capabilities"`
	// NoNewPrivs sets no_new_privs on the program, its check and its exec
	// probes: setuid/setgid bits and file capabilities give them nothing.
	// Default true; false for a program that must run a setuid binary
	// (sudo, su, msmtp setgid).
	NoNewPrivs *bool `mapstructure:"no_new_privs" yaml:"no_new_privs" json:"no_new_privs"`
	// DependsOn names programs that must be RUNNING (ready) before this one
	// starts; this one is stopped before them.
	DependsOn []string `mapstructure:"depends_on" yaml:"depends_on" json:"depends_on"`
	// Critical: when the program goes FATAL, phpinit stops everything and
	// exits non-zero. Default true in phpinit.yaml (its programs are the
	// web stack); false for programs from supervisord files.
	Critical *bool `mapstructure:"critical" yaml:"critical" json:"critical"`
	// Autorestart is always (default), on-failure (restart after a signal
	// or a non-zero status), never, or unexpected (restart unless the exit
	// status is in ExitCodes, as supervisord's autorestart=unexpected; the
	// default for programs from supervisord files).
	Autorestart string `mapstructure:"autorestart" yaml:"autorestart" json:"autorestart"`
	// StartSeconds is how long it must stay up to count as started
	// (when it has no readiness probe); default 1s. A run shorter than
	// StartSeconds, and never shorter than 1s, that is restarted counts as
	// a failed start, even after the readiness probe passed.
	StartSeconds time.Duration `mapstructure:"start_seconds" yaml:"start_seconds" json:"start_seconds"`
	// StartRetries is how many failed starts in a row are retried before
	// FATAL; default 5 (at most 6 starts in a row).
	StartRetries *int `mapstructure:"start_retries" yaml:"start_retries" json:"start_retries"`
	// Backoff between failed starts.
	Backoff Backoff `mapstructure:"backoff" yaml:"backoff" json:"backoff"`
	// StopSignal starts a graceful stop; default QUIT (graceful for nginx
	// and php-fpm; TERM cuts their in-flight requests).
	StopSignal Signal `mapstructure:"stop_signal" yaml:"stop_signal" json:"stop_signal"`
	// StopAsGroup sends StopSignal to the program's whole process group,
	// not only its main process (supervisord's stopasgroup): for a shell
	// or a runner whose children must get the signal too. Default false:
	// nginx and php-fpm masters stop their own workers.
	StopAsGroup bool `mapstructure:"stop_as_group" yaml:"stop_as_group,omitempty" json:"stop_as_group,omitempty"`
	// StopTimeout is how long after StopSignal before SIGKILL to the
	// program's process group; default 8s.
	StopTimeout time.Duration `mapstructure:"stop_timeout" yaml:"stop_timeout" json:"stop_timeout"`
	// ReloadSignal makes the program re-read its config (nginx HUP,
	// php-fpm USR2); 0/"" means it has none.
	ReloadSignal Signal `mapstructure:"reload_signal" yaml:"reload_signal" json:"reload_signal"`
	// ReopenSignal makes the program reopen its logs (USR1).
	ReopenSignal Signal `mapstructure:"reopen_signal" yaml:"reopen_signal" json:"reopen_signal"`
	// Check is run (as the program's user) before a reload; it must exit 0.
	Check []string `mapstructure:"check" yaml:"check" json:"check"`
	// Watch lists files or directories whose change triggers OnChange.
	Watch []string `mapstructure:"watch" yaml:"watch" json:"watch"`
	// OnChange is reload or restart; default reload when ReloadSignal is
	// set, else restart.
	OnChange string `mapstructure:"on_change" yaml:"on_change" json:"on_change"`

	// Stdout and Stderr are inherit (default), prefix, json, or an
	// absolute file path.
	Stdout string `mapstructure:"stdout" yaml:"stdout" json:"stdout"`
	Stderr string `mapstructure:"stderr" yaml:"stderr" json:"stderr"`
	// StdoutMaxSize / StderrMaxSize rotate a file sink at this many bytes;
	// default 10 MiB. Accepts 10MiB, 512KB, or a plain byte count.
	StdoutMaxSize ByteSize `mapstructure:"stdout_max_size" yaml:"stdout_max_size" json:"stdout_max_size"`
	StderrMaxSize ByteSize `mapstructure:"stderr_max_size" yaml:"stderr_max_size" json:"stderr_max_size"`
	// StdoutBackups / StderrBackups is how many rotated files are kept; default 5.
	StdoutBackups int `mapstructure:"stdout_backups" yaml:"stdout_backups" json:"stdout_backups"`
	StderrBackups int `mapstructure:"stderr_backups" yaml:"stderr_backups" json:"stderr_backups"`

	// Ready is the readiness probe; nil means StartSeconds decides.
	Ready *Probe `mapstructure:"ready" yaml:"ready,omitempty" json:"ready,omitempty"`
	// Live is the liveness probe; nil means none.
	Live *Probe `mapstructure:"live" yaml:"live,omitempty" json:"live,omitempty"`

	// NumProcs is how many copies run; default 1. Load replaces a program
	// with numprocs > 1 by its copies (see ProcessName).
	NumProcs int `mapstructure:"numprocs" yaml:"numprocs" json:"numprocs"`
	// NumProcsStart is the first copy's process_num; default 0.
	NumProcsStart int `mapstructure:"numprocs_start" yaml:"numprocs_start" json:"numprocs_start"`
	// ProcessName names each copy, with supervisord's expansions
	// %(program_name)s, %(process_num)d (or 02d...), %(group_name)s and
	// %(numprocs)d; "" means "%(program_name)s_%(process_num)02d" when
	// NumProcs > 1, else the program's name.
	ProcessName string `mapstructure:"process_name" yaml:"process_name,omitempty" json:"process_name,omitempty"`
	// ExitCodes are the expected exit statuses for autorestart
	// unexpected; default [0].
	ExitCodes []int `mapstructure:"exitcodes" yaml:"exitcodes" json:"exitcodes"`
	// Autostart false means the program starts only on `phpinit ctl
	// start`; default true.
	Autostart *bool `mapstructure:"autostart" yaml:"autostart" json:"autostart"`
	// Schedule is a cron expression (5 fields, @hourly, @every 30s), with
	// an optional CRON_TZ=Zone or TZ=Zone prefix (else the container's
	// TZ); "" means the program runs all the time. A scheduled program
	// starts at each tick, never at boot, is never restarted, and is not
	// critical (critical: true is refused; nothing may depend on it).
	Schedule string `mapstructure:"schedule" yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// Priority orders starts among programs that do not depend on each
	// other: lower first, then by name; default 0 (supervisord files: 999).
	Priority int `mapstructure:"priority" yaml:"priority" json:"priority"`

	// Sockets are listening sockets phpinit holds across the program's
	// restarts (see Socket); none by default.
	Sockets []Socket `mapstructure:"sockets" yaml:"sockets,omitempty" json:"sockets,omitempty"`

	// ProcessGroup is the name ctl addresses a set of copies by: the
	// supervisord [group:x] that lists the program, else the program's
	// key. Filled by Load.
	ProcessGroup string `mapstructure:"-" yaml:"-" json:"-"`
	// CopyOf is the program key a copy was made from ("worker" for
	// worker_00); "" for a program without copies. Filled by Load.
	CopyOf string `mapstructure:"-" yaml:"-" json:"-"`
	// ProcessNum is this copy's process_num (PROCESS_NUM in its
	// environment); 0 for a program that has no copies. Filled by Load.
	ProcessNum int `mapstructure:"-" yaml:"-" json:"-"`
	// Source is "FILE:LINE" of the [program:x] section a program came
	// from; "" for phpinit.yaml. Filled by Load.
	Source string `mapstructure:"-" yaml:"-" json:"-"`
}

// IsAutostart reports Autostart with its default (true).
func (p *Program) IsAutostart() bool { return p.Autostart == nil || *p.Autostart }

// Supervisord is where phpinit reads supervisord's own config files.
type Supervisord struct {
	// Include lists globs of supervisord files (relative ones to the
	// directory of phpinit.yaml); their [program:x] become programs.
	// Default ["/data/conf/supervisord/*.conf"]; [] reads none.
	Include []string `mapstructure:"include" yaml:"include" json:"include"`
	// Files are the files read, includes included. Filled by Load.
	Files []string `mapstructure:"-" yaml:"-" json:"-"`
}

// IsCritical reports Critical with its default (true).
func (p *Program) IsCritical() bool { return p.Critical == nil || *p.Critical }

// NoNewPrivileges reports NoNewPrivs with its default (true).
func (p *Program) NoNewPrivileges() bool { return p.NoNewPrivs == nil || *p.NoNewPrivs }

// Retries reports StartRetries with its default (5).
func (p *Program) Retries() int {
	if p.StartRetries == nil {
		return 5
	}
	return *p.StartRetries
}

// Backoff is exponential: Initial doubles per failed start up to Max, ±10% jitter.
type Backoff struct {
	// Initial delay after the first failed start; default 200ms. The first
	// restart after a good run is immediate.
	Initial time.Duration `mapstructure:"initial" yaml:"initial" json:"initial"`
	// Max delay; default 30s.
	Max time.Duration `mapstructure:"max" yaml:"max" json:"max"`
}

// Probe is one of FastCGI, HTTP, TCP or Exec (exactly one set).
type Probe struct {
	// FastCGI is unix:///abs/path or tcp://host:port of a php-fpm pool.
	FastCGI string `mapstructure:"fastcgi" yaml:"fastcgi,omitempty" json:"fastcgi,omitempty"`
	// Path is the FastCGI SCRIPT_NAME to ask for (php-fpm ping.path); default /ping.
	Path string `mapstructure:"path" yaml:"path,omitempty" json:"path,omitempty"`
	// HTTP is a URL fetched with GET.
	HTTP string `mapstructure:"http" yaml:"http,omitempty" json:"http,omitempty"`
	// ExpectStatus is the HTTP status that passes; default 200.
	ExpectStatus int `mapstructure:"expect_status" yaml:"expect_status,omitempty" json:"expect_status,omitempty"`
	// TCP is host:port that must accept a connection.
	TCP string `mapstructure:"tcp" yaml:"tcp,omitempty" json:"tcp,omitempty"`
	// Exec is argv run as the program's user; exit 0 passes.
	Exec []string `mapstructure:"exec" yaml:"exec,omitempty" json:"exec,omitempty"`

	// Interval between liveness probes; for readiness, between probes while
	// it misses, and how long a passing result is reused when /readyz or
	// /metrics asks (a passed readiness probe runs only then). Default 1s
	// (10s for live).
	Interval time.Duration `mapstructure:"interval" yaml:"interval" json:"interval"`
	// Timeout of one probe; default 1s.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout" json:"timeout"`
	// FailureThreshold misses in a row make it fail; default 3 (ready) / 5 (live).
	FailureThreshold int `mapstructure:"failure_threshold" yaml:"failure_threshold" json:"failure_threshold"`
	// SuccessThreshold passes in a row make it pass; default 1.
	SuccessThreshold int `mapstructure:"success_threshold" yaml:"success_threshold" json:"success_threshold"`
	// StartTimeout (ready only) is how long a start may stay not ready:
	// then the program is stopped and the start counts as failed (backoff,
	// then FATAL after start_retries); default 60s; 0 waits forever.
	StartTimeout time.Duration `mapstructure:"start_timeout" yaml:"start_timeout" json:"start_timeout"`
}

// Watch tunes config-file watching.
type Watch struct {
	// Debounce collapses a burst of changes into one reload; default 500ms.
	Debounce time.Duration `mapstructure:"debounce" yaml:"debounce" json:"debounce"`
	// PollInterval > 0 also polls content hashes (NFS, FUSE, Docker
	// Desktop); default 0 (inotify only).
	PollInterval time.Duration `mapstructure:"poll_interval" yaml:"poll_interval" json:"poll_interval"`
	// MaxFiles bounds the files and directories one program's watch looks
	// at; beyond it the watch reports an error instead of a change.
	// Default 10000; 0 means the default.
	MaxFiles int `mapstructure:"max_files" yaml:"max_files" json:"max_files"`
	// MaxBytes bounds the bytes one program's watch hashes, in total;
	// beyond it the watch reports an error instead of a change. Default
	// 64MiB; 0 means the default.
	MaxBytes ByteSize `mapstructure:"max_bytes" yaml:"max_bytes" json:"max_bytes"`
}

// Control is the root-only unix socket `phpinit ctl` talks to.
type Control struct {
	// Socket path; default /run/phpinit/phpinit.sock; "" disables it.
	Socket string `mapstructure:"socket" yaml:"socket" json:"socket"`
}

// HTTP is the health and metrics listener.
type HTTP struct {
	// Listen address; default ":9180"; "" disables the listener.
	Listen string `mapstructure:"listen" yaml:"listen" json:"listen"`
	// EnableLifecycle allows POST /-/reload; default false.
	EnableLifecycle bool `mapstructure:"enable_lifecycle" yaml:"enable_lifecycle" json:"enable_lifecycle"`
	// MaxConnections is how many connections the listener holds open at
	// once, idle keep-alives included; default 64, at least 1. It is also
	// capped at a quarter of RLIMIT_NOFILE so that probes, pipes and
	// spawns always find descriptors.
	MaxConnections int `mapstructure:"max_connections" yaml:"max_connections" json:"max_connections"`
}

// Metrics lists what /metrics scrapes at request time.
type Metrics struct {
	// PHPFPM pools to scrape over FastCGI (pm.status_path?json).
	PHPFPM []PoolStatus `mapstructure:"phpfpm" yaml:"phpfpm" json:"phpfpm"`
	// Nginx is the stub_status URL; "" disables.
	Nginx string `mapstructure:"nginx" yaml:"nginx" json:"nginx"`
}

// PoolStatus is one php-fpm status endpoint.
type PoolStatus struct {
	// Address is unix:///abs/path or tcp://host:port.
	Address string `mapstructure:"address" yaml:"address" json:"address"`
	// Path is pm.status_path; default /status.
	Path string `mapstructure:"path" yaml:"path" json:"path"`
	// Pool is the value of the metrics' pool label, the same whether the
	// pool answers or not; default: the pool name the status page last
	// reported, the address until it first answers.
	Pool string `mapstructure:"pool" yaml:"pool" json:"pool"`
	// Listen is the pool's listen socket, unix:///abs/path, whose kernel
	// accept queue fills phpfpm_listen_queue (php-fpm cannot measure a unix
	// socket's); default: Address when it is a unix socket. Set it when
	// Address is the pm.status_listen socket.
	Listen string `mapstructure:"listen" yaml:"listen" json:"listen"`
}

// Signal is a signal named in the config ("QUIT", "SIGQUIT" or a number).
// Zero means none.
type Signal syscall.Signal

// ByteSize is a size in bytes, written as 10MiB, 512KB, 1GB or a number.
// KiB, MiB, GiB and the short K, M, G are powers of 1024; KB, MB, GB of 1000.
type ByteSize int64
