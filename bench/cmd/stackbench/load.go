package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The restart-under-load benches: 4 clients each GET the PHP page one
// request after another (a new connection each, 10 s timeout), and while
// they do one program is restarted. Every request that gets no PHP answer
// (refused, reset, timed out, or nginx's 502) from the restart until the
// stack serves again, plus one second, counts as failed. A request may take
// longer than usual; only failures count.
//
//	load_kill9_fpm      SIGKILL to the php-fpm master; done at the first
//	                    answer from a worker of a new master
//	load_restart_fpm    the supervisor's own restart of php-fpm
//	load_restart_nginx  the same for nginx; done at the first answer after
//	                    a new nginx master appeared
//
// The restarts: `phpinit ctl restart NAME`, `supervisorctl restart NAME`,
// `s6-svc -r` (QUIT through down-signal, then s6 starts it again). tini
// runs a start script and has no restart of one program: only the kill is
// measured, and there the container ends.

const loadClients = 4

// loadActions maps a measurement to the program it restarts and how.
var loadActions = map[string]struct{ program, how string }{
	"load_kill9_fpm":     {"php-fpm", "kill"},
	"load_restart_fpm":   {"php-fpm", "restart"},
	"load_restart_nginx": {"nginx", "restart"},
}

type loadRun struct {
	url          string
	ok, failed   atomic.Int64
	done         func(page) bool // set before the restart; nil before
	mu           sync.Mutex
	recoveredAt  time.Time
	stop         chan struct{}
	wg           sync.WaitGroup
	firstFailure atomic.Value // string
}

func (l *loadRun) client() {
	defer l.wg.Done()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		p, err := get(c, l.url)
		if err != nil || !phpAnswered(p) {
			l.failed.Add(1)
			if err == nil {
				err = fmt.Errorf("status %d without PHP", p.Code)
			}
			l.firstFailure.CompareAndSwap(nil, err.Error())
			continue
		}
		l.ok.Add(1)
		l.mu.Lock()
		if l.done != nil && l.recoveredAt.IsZero() && l.done(p) {
			l.recoveredAt = time.Now()
		}
		l.mu.Unlock()
	}
}

func (l *loadRun) recovered() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recoveredAt, !l.recoveredAt.IsZero()
}

// restartCommand is each supervisor's restart of one program.
func restartCommand(e env, name, program string) []string {
	switch name {
	case "phpinit":
		return []string{e.PHPInit, "ctl", "--socket", filepath.Join(e.Site, "run", "phpinit.sock"), "restart", program}
	case "supervisord":
		return []string{"supervisorctl", "-c", filepath.Join(e.Site, "supervisord.conf"), "restart", program}
	case "s6":
		return []string{"s6-svc", "-r", filepath.Join(e.Site, "s6", program)}
	}
	return nil
}

func measureRestartLoad(e env, name, what string, settle, timeout time.Duration) (Result, error) {
	r := Result{Measure: what, Init: name, Unit: "failed", Extra: map[string]float64{}}
	act := loadActions[what]
	argv := restartCommand(e, name, act.program)
	if act.how == "restart" && argv == nil {
		return r, fmt.Errorf("%s has no restart of one program", name)
	}
	st, pid, err := upAndSettled(e, name, what, settle)
	if err != nil {
		return r, err
	}
	defer st.Stop()
	before, err := get(newClient(), e.url())
	if err != nil || !phpAnswered(before) {
		return r, fmt.Errorf("%s: no PHP answer before the restart: %v", name, err)
	}
	title := "php-fpm"
	if act.program == "nginx" {
		title = "nginx"
	}
	old := masters(pid, title)
	if len(old) != 1 {
		return r, fmt.Errorf("%s: want one %s master under PID 1, found %v", name, title, old)
	}
	l := &loadRun{url: e.url(), stop: make(chan struct{})}
	for range loadClients {
		l.wg.Add(1)
		go l.client()
	}
	defer func() { close(l.stop); l.wg.Wait() }()
	for l.ok.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	failedBefore := l.failed.Load()
	var newMaster atomic.Bool
	l.mu.Lock()
	l.done = func(p page) bool {
		if act.program == "nginx" {
			return newMaster.Load()
		}
		return p.PPID != before.PPID && p.PPID != 1
	}
	l.mu.Unlock()
	ok0, failed0 := l.ok.Load(), l.failed.Load()
	t0 := time.Now()
	// The restart command runs alongside the wait: s6-svc returns at once,
	// phpinit ctl and supervisorctl only once the program is back.
	cmdDone := make(chan struct{})
	if act.how == "kill" {
		close(cmdDone)
		if err := syscall.Kill(old[0], syscall.SIGKILL); err != nil {
			return r, fmt.Errorf("cannot kill %s %d: %w", title, old[0], err)
		}
	} else {
		go func() {
			defer close(cmdDone)
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			l.mu.Lock()
			r.Extra["restart_command_ms"] = ms(time.Since(t0))
			if err != nil {
				r.Note = fmt.Sprintf("%v: %v: %s", argv, err, out)
			}
			l.mu.Unlock()
		}()
	}
	until := t0.Add(timeout)
	var at time.Time
	exited := false
	for {
		if t, ok := l.recovered(); ok {
			at = t
			break
		}
		if time.Now().After(until) {
			break
		}
		select {
		case <-st.done:
			exited = true
		case <-time.After(5 * time.Millisecond):
		}
		if exited {
			break
		}
		for _, m := range masters(pid, title) {
			if m != old[0] {
				newMaster.Store(true)
			}
		}
	}
	if !at.IsZero() {
		select {
		case <-st.done:
		case <-time.After(time.Second):
		}
	}
	select {
	case <-cmdDone:
	case <-time.After(timeout):
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Value = float64(l.failed.Load() - failed0)
	r.Extra["requests"] = float64(l.ok.Load() - ok0 + l.failed.Load() - failed0)
	r.Extra["failed_before"] = float64(failedBefore)
	switch {
	case exited:
		r.Extra["pid1_exited"] = 1
		r.Note = "PID 1 exited: the container ends (its runtime would restart it whole)"
	case at.IsZero():
		r.Extra["recovery_timed_out"] = 1
		r.Limit = ms(timeout)
		r.Note = fmt.Sprintf("no new %s served within %v", act.program, timeout)
	default:
		r.Extra["recovery_ms"] = ms(at.Sub(t0))
	}
	if f, ok := l.firstFailure.Load().(string); ok {
		if r.Note != "" {
			r.Note += "; "
		}
		r.Note += "first failure: " + f
	}
	return r, nil
}
