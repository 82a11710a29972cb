package supervisor

import (
	"fmt"
	"time"

	"github.com/phpinit/phpinit/internal/proc"
)

// checkTimeout bounds a reload check (`nginx -t` opens every referenced file;
// it is quick, but a hung NFS mount must not wedge reloads forever).
const checkTimeout = 30 * time.Second

// Reload results, the `result` label of phpinit_reloads_total.
const (
	ReloadOK           = "ok"
	ReloadCheckFailed  = "check_failed"
	ReloadSignalFailed = "signal_failed"
)

// reloadProgram checks the program's config and, if the check passes, sends
// its reload signal (or restarts it, for on_change: restart). A failed check
// leaves the running program untouched. A program STARTING, in BACKOFF or
// FATAL (not ready, perhaps because of the config being fixed) is
// restarted with the new config once the check passes. reply (may be nil) gets the outcome.
//
// Requests made while a check runs are coalesced: they all get the outcome
// of one more reload, which starts after the current one ends and so sees
// every change made before they asked.
func (s *Supervisor) reloadProgram(p *program, reply func(error)) {
	if reply == nil {
		reply = func(error) {}
	}
	if p.spec.ReloadSignal == 0 && !p.spec.OnChangeRestart {
		reply(nil)
		return
	}
	switch p.state {
	case Running, Starting, Backoff, Fatal:
	case Stopping:
		if p.goal == GoalRestart || p.goal == GoalUp {
			reply(nil) // it reads the new config when it starts again
		} else {
			reply(fmt.Errorf("%s is STOPPING: not reloaded", p.spec.Name))
		}
		return
	default:
		reply(fmt.Errorf("%s is %s: not reloaded; it reads its config when it starts", p.spec.Name, p.state))
		return
	}
	if p.reloading {
		p.nextReload = append(p.nextReload, reply)
		return
	}
	p.reloading = true
	finish := func(result string, err error) {
		p.reloading = false
		p.recordReload(s, result, err)
		reply(err)
		if next := p.nextReload; len(next) > 0 {
			p.nextReload = nil
			s.reloadProgram(p, func(err error) {
				for _, r := range next {
					r(err)
				}
			})
		}
	}
	gen := p.gen
	if len(p.spec.Check) == 0 {
		finish(p.applyReload(s, gen))
		return
	}
	s.check(p, func(r proc.Result) {
		if !r.OK() {
			p.recheckFailed(r)
			finish(ReloadCheckFailed, fmt.Errorf("%s: check failed: %s", p.spec.Name, checkOutcome(r)))
			return
		}
		finish(p.applyReload(s, gen))
	})
}

// applyReload acts on a passed check; gen is the attempt the check began in.
func (p *program) applyReload(s *Supervisor, gen uint64) (string, error) {
	switch {
	case p.state == Backoff || p.state == Fatal || (p.state == Starting && p.gen == gen):
		p.log.Info("config changed before it was ready: restarting", "state", p.state.String())
		p.failures = 0
		p.restart(s)
		return ReloadOK, nil
	case p.state != Running || p.gen != gen:
		// Started again meanwhile (reading the new config), or stopped.
		return ReloadOK, nil
	case p.spec.OnChangeRestart:
		p.log.Info("config changed: restarting")
		p.restart(s)
		return ReloadOK, nil
	}
	if err := s.sendSignal(p, p.spec.ReloadSignal); err != nil {
		return ReloadSignalFailed, err
	}
	p.log.Info("reloaded", "pid", p.pid, "signal", sigName(p.spec.ReloadSignal))
	return ReloadOK, nil
}

func (p *program) recordReload(s *Supervisor, result string, err error) {
	p.reloads[result]++
	info := &ReloadInfo{Time: s.clock.Now(), Result: result}
	if err != nil {
		info.Error = err.Error()
		p.log.Error("reload failed: the running program keeps its old config", "result", result, "err", err)
	}
	p.lastReload = info
}
