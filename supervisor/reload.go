package supervisor

import (
	"errors"
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

// errNotRunning: a reload was asked of a program that is not RUNNING.
var errNotRunning = errors.New("not running")

// reloadProgram checks the program's config and, if the check passes, sends
// its reload signal (or restarts it, for on_change: restart). A failed check
// leaves the running program untouched. reply (may be nil) gets the outcome.
// When the program is not RUNNING yet, the reload is applied once it is.
func (s *Supervisor) reloadProgram(p *program, reply func(error)) {
	if reply == nil {
		reply = func(error) {}
	}
	if p.spec.ReloadSignal == 0 && !p.spec.OnChangeRestart {
		reply(nil)
		return
	}
	if p.state != Running {
		p.reloadPending = true
		reply(fmt.Errorf("%s is %s: reload deferred until it runs", p.spec.Name, p.state))
		return
	}
	if p.reloading {
		// Coalesce: one more check once the current one finishes sees every
		// change made meanwhile.
		p.reloadPending = true
		p.reloadReplies = append(p.reloadReplies, reply)
		return
	}
	p.reloading = true
	finish := func(result string, err error) {
		p.reloading = false
		p.recordReload(s, result, err)
		reply(err)
		if p.reloadPending && p.state == Running {
			p.reloadPending = false
			replies := p.reloadReplies
			p.reloadReplies = nil
			s.reloadProgram(p, func(err error) {
				for _, r := range replies {
					r(err)
				}
			})
		}
	}
	if len(p.spec.Check) == 0 {
		finish(p.applyReload(s))
		return
	}
	gen := p.gen
	s.runCheck(p, func(r proc.Result) {
		if !r.OK() {
			finish(ReloadCheckFailed, fmt.Errorf("%s: check failed: %s", p.spec.Name, checkOutcome(r)))
			return
		}
		if p.gen != gen || p.state != Running {
			// It restarted meanwhile and read the new config on start.
			finish(ReloadOK, nil)
			return
		}
		finish(p.applyReload(s))
	})
}

func (p *program) applyReload(s *Supervisor) (string, error) {
	if p.spec.OnChangeRestart {
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

// runPendingReload applies a reload that arrived before the program ran.
func (p *program) runPendingReload(s *Supervisor) {
	if p.reloadPending && !p.reloading && p.state == Running {
		p.reloadPending = false
		s.reloadProgram(p, nil)
	}
}
