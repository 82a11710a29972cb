package supervisor

import (
	"errors"
	"os"
	"syscall"
)

// requestStop begins the graceful stop of everything (once).
func (s *Supervisor) requestStop(code int, why string) {
	if s.stopping || s.draining {
		return
	}
	s.exitCode = code
	if s.opts.Drain > 0 {
		s.draining = true
		s.log.Info("draining before stop", "drain", s.opts.Drain, "reason", why)
		s.clock.AfterFunc(s.opts.Drain, func() { s.post(func() { s.beginStop() }) })
		return
	}
	s.beginStop()
}

func (s *Supervisor) beginStop() {
	if s.stopping {
		return
	}
	s.stopping = true
	s.deadline = s.clock.Now().Add(s.opts.Grace)
	for _, p := range s.progs {
		p.wantDown()
	}
	s.clock.AfterFunc(s.opts.Grace, func() {
		s.post(func() {
			if !s.finished {
				s.log.Warn("shutdown grace exhausted: killing everything left", "grace", s.opts.Grace)
				s.killEverything()
			}
		})
	})
}

// killEverything is the last resort: SIGKILL every program group and, as
// PID 1, every process in the namespace.
func (s *Supervisor) killEverything() {
	s.fastStop = true
	s.beginStop()
	for _, p := range s.progs {
		p.killGroup(s)
	}
	if os.Getpid() == 1 {
		_ = syscall.Kill(-1, syscall.SIGKILL)
	}
}

func (s *Supervisor) reconcileStop() {
	allDown := true
	for i := len(s.order) - 1; i >= 0; i-- {
		p := s.progs[s.order[i]]
		if p.down() {
			continue
		}
		allDown = false
		if p.state != Stopping && s.dependentsDown(p.spec.Name) {
			p.apply(s, EvStop)
		}
	}
	if !allDown {
		return
	}
	for _, p := range s.progs {
		if !p.down() {
			return
		}
	}
	s.finishStop()
}

// finishStop runs once every program is down. As PID 1 nothing may outlive
// us unnoticed: whatever is left in the namespace is named and killed.
func (s *Supervisor) finishStop() {
	if os.Getpid() == 1 {
		if err := syscall.Kill(-1, 0); err == nil {
			s.log.Warn("processes left after programs stopped: killing them")
			_ = syscall.Kill(-1, syscall.SIGKILL)
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, 0, nil)
				if errors.Is(err, syscall.EINTR) {
					continue
				}
				if err != nil || pid <= 0 {
					break
				}
				s.orphans++
			}
		}
	}
	s.finished = true
	s.log.Info("stopped", "exit_code", s.exitCode)
}

func (s *Supervisor) dependentsDown(name string) bool {
	for _, q := range s.progs {
		for _, d := range q.spec.DependsOn {
			if d == name && !q.down() {
				return false
			}
		}
	}
	return true
}
