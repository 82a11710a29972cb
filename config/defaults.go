package config

import (
	"strings"
	"syscall"
	"time"
)

// Every default lives in this file: Defaults for the top level,
// defaultProgram and defaultProbe for what a file adds, and fillDerived for
// the defaults that depend on other keys.

// Defaults is the config used when there is no file: no programs (phpinit
// runs a one-off command), hooks, the health listener and the control socket.
func Defaults() *Config {
	return &Config{
		Log: Log{Format: "text", Level: "info"},
		Hooks: Hooks{
			Script:  "/data/script/script.sh",
			Dir:     "/data/script/init.d",
			Timeout: 60 * time.Second,
			OnError: "abort",
		},
		Shutdown:    Shutdown{Grace: 9 * time.Second},
		Programs:    map[string]*Program{},
		Watch:       Watch{Debounce: 500 * time.Millisecond, MaxFiles: 10000, MaxBytes: 64 << 20},
		Control:     Control{Socket: "/run/phpinit/phpinit.sock"},
		HTTP:        HTTP{Listen: ":9180", MaxConnections: 64},
		Supervisord: Supervisord{Include: []string{"/data/conf/supervisord/*.conf"}},
	}
}

// defaultProgram is what a program gets for every key it leaves out.
// Stdout and Stderr stay "": fillDerived sets them from log.format.
func defaultProgram(name string) *Program {
	critical, retries, autostart, noNewPrivs := true, 5, true, true
	return &Program{
		Name:          name,
		Critical:      &critical,
		NoNewPrivs:    &noNewPrivs,
		Autorestart:   "always",
		StartSeconds:  time.Second,
		StartRetries:  &retries,
		Backoff:       Backoff{Initial: 200 * time.Millisecond, Max: 30 * time.Second},
		StopSignal:    Signal(syscall.SIGQUIT),
		StopTimeout:   8 * time.Second,
		StdoutMaxSize: 10 << 20,
		StderrMaxSize: 10 << 20,
		StdoutBackups: 5,
		StderrBackups: 5,
		NumProcs:      1,
		ExitCodes:     []int{0},
		Autostart:     &autostart,
	}
}

// defaultProbe is a probe's timing; live probes are gentler because a
// failure restarts the program.
func defaultProbe(live bool) *Probe {
	p := &Probe{Interval: time.Second, Timeout: time.Second, FailureThreshold: 3, SuccessThreshold: 1,
		StartTimeout: 60 * time.Second}
	if live {
		p.Interval, p.FailureThreshold, p.StartTimeout = 10*time.Second, 5, 0
	}
	return p
}

// fillDerived sets the defaults that depend on other keys, after decoding.
func fillDerived(c *Config) {
	for i := range c.Metrics.PHPFPM {
		if c.Metrics.PHPFPM[i].Path == "" {
			c.Metrics.PHPFPM[i].Path = "/status"
		}
		if ps := &c.Metrics.PHPFPM[i]; ps.Listen == "" && strings.HasPrefix(ps.Address, "unix://") {
			ps.Listen = ps.Address
		}
	}
	for _, p := range c.Programs {
		// With log.format json every container line is JSON: programs'
		// output too, unless they say otherwise.
		for _, m := range []*string{&p.Stdout, &p.Stderr} {
			if *m == "" {
				*m = "inherit"
				if c.Log.Format == "json" {
					*m = "json"
				}
			}
		}
		if p.OnChange == "" {
			p.OnChange = "restart"
			if p.ReloadSignal != 0 {
				p.OnChange = "reload"
			}
		}
		for _, pr := range []*Probe{p.Ready, p.Live} {
			if pr == nil {
				continue
			}
			if pr.FastCGI != "" && pr.Path == "" {
				pr.Path = "/ping"
			}
			if pr.HTTP != "" && pr.ExpectStatus == 0 {
				pr.ExpectStatus = 200
			}
		}
	}
}
