package main

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"time"
)

// After kill -9 of php-fpm's master its workers live on, reparented to PID
// 1, still accepting on the pool's socket, and a new master refuses to start
// while they do ("Another FPM instance seems to already listen", exit 78).
// They end only when each has served pm.max_requests (500 in the shipped
// pool; php-fpm's default 0 means never). So how fast a supervisor recovers
// can depend on traffic, and the bench measures both ways:
//
//   restart          no traffic: /proc is watched every millisecond for a
//                    new master with workers, and only then is the page
//                    polled. Nothing drains the orphaned workers.
//   restart_traffic  the page is polled every millisecond from the kill on,
//                    about 1,000 requests a second.
//
// Both end at the first PHP answer from a worker whose parent is neither
// the killed master nor PID 1 (an orphaned worker).

// restartRun is the state of one restart measurement.
type restartRun struct {
	e          env
	exited     <-chan struct{} // the stack's PID 1 is gone
	initPID    int
	old        int // host pid of the killed master
	oldNS      int // its pid in the namespace, as the page reports it
	newMasters map[int]bool
	orphanHits int // PHP answers from the killed master's orphaned workers
	failures   int // polls without a PHP answer
}

func (rr *restartRun) observe(p page, err error) {
	switch {
	case err != nil || !phpAnswered(p):
		rr.failures++
	case p.PPID == 1:
		rr.orphanHits++
	}
}

func (rr *restartRun) fromNewMaster(p page) bool {
	return phpAnswered(p) && p.PPID != rr.oldNS && p.PPID != 1
}

// scanMasters records new masters and reports one that has forked workers,
// which php-fpm does only once it holds the listen socket.
func (rr *restartRun) scanMasters() (serving bool) {
	for _, m := range fpmMasters(rr.initPID) {
		if m == rr.old {
			continue
		}
		rr.newMasters[m] = true
		for _, c := range children(m) {
			if st, ok := readStat(c); ok && st.State != 'Z' {
				return true
			}
		}
	}
	return false
}

// waitQuiet watches /proc for a serving new master, with one page request a
// second to see who answers meanwhile, then polls the page.
func (rr *restartRun) waitQuiet(c *http.Client, until time.Time) (time.Time, error) {
	lastGet := time.Now()
	for !rr.scanMasters() {
		if time.Now().After(until) {
			return time.Time{}, errTimeout
		}
		select {
		case <-rr.exited:
			return time.Time{}, errExited
		default:
		}
		if time.Since(lastGet) >= time.Second {
			p, err := get(c, rr.e.url())
			rr.observe(p, err)
			lastGet = time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	return pollPage(c, rr.e.url(), until, rr.exited, rr.fromNewMaster, rr.observe)
}

// waitTraffic polls the page every millisecond from the kill on.
func (rr *restartRun) waitTraffic(c *http.Client, until time.Time) (time.Time, error) {
	polls := 0
	return pollPage(c, rr.e.url(), until, rr.exited, rr.fromNewMaster, func(p page, err error) {
		rr.observe(p, err)
		if polls++; polls%10 == 0 {
			rr.scanMasters()
		}
	})
}

// measureRestart kills php-fpm's master with SIGKILL once the stack is up
// and settled, and times how long until a new master serves PHP.
func measureRestart(e env, name string, traffic bool, settle, timeout time.Duration) (Result, error) {
	r := Result{Measure: "restart", Init: name, Unit: "ms", Extra: map[string]float64{}}
	if traffic {
		r.Measure = "restart_traffic"
	}
	st, pid, err := upAndSettled(e, name, r.Measure, settle)
	if err != nil {
		return r, err
	}
	defer st.Stop()
	c := newClient()
	before, err := get(c, e.url())
	if err != nil || !phpAnswered(before) {
		return r, fmt.Errorf("%s: no PHP answer before the kill: %v", name, err)
	}
	masters := fpmMasters(pid)
	if len(masters) != 1 {
		return r, fmt.Errorf("%s: want one php-fpm master under PID 1, found %v", name, masters)
	}
	rr := &restartRun{e: e, exited: st.done, initPID: pid, old: masters[0], oldNS: before.PPID, newMasters: map[int]bool{}}
	t0 := time.Now()
	if err := syscall.Kill(rr.old, syscall.SIGKILL); err != nil {
		return r, fmt.Errorf("cannot kill php-fpm master %d: %w", rr.old, err)
	}
	wait := rr.waitQuiet
	if traffic {
		wait = rr.waitTraffic
	}
	at, err := wait(c, t0.Add(timeout))
	r.Extra["new_masters_started"] = float64(len(rr.newMasters))
	r.Extra["answers_from_orphaned_workers"] = float64(rr.orphanHits)
	r.Extra["polls_without_php"] = float64(rr.failures)
	if errors.Is(err, errExited) {
		// tini's start script: the container ends, its runtime restarts it.
		r.TimedOut, r.Value, r.Limit = true, ms(timeout), ms(timeout)
		r.Note = "PID 1 exited: the container ends (its runtime would restart it whole)"
		return r, nil
	}
	if err != nil {
		r.TimedOut, r.Value, r.Limit = true, ms(timeout), ms(timeout)
		r.Note = fmt.Sprintf("no new master served within %v: %d new masters were started, none got the socket", timeout, len(rr.newMasters))
		return r, nil
	}
	r.Value = ms(at.Sub(t0))
	return r, nil
}
