package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/supervisor/reaper"
)

// program is the loop's record of one program. Only the loop goroutine
// touches it.
type program struct {
	spec  ProgramSpec
	log   *slog.Logger
	state State
	since time.Time

	pid  int // main process; 0 when none
	pgid int // its process group, kept until the group is empty
	// exited: the main process was reaped; EvExit waits for its group to
	// empty, so a restart never meets orphaned workers holding the socket.
	exited     bool
	exitStatus unix.WaitStatus

	// gen invalidates timers and probe results from an earlier attempt.
	gen         uint64
	probeCtx    context.Context
	cancelProbe context.CancelFunc
	probePasses int
	probeMisses int
	probeErr    string
	probing     probing // readiness and liveness scheduling (probing.go)
	// goal is what it should be doing (see Goal).
	goal Goal
	// nextSpec replaces spec once the program is down (config change).
	nextSpec *ProgramSpec
	failures int
	spawns   int
	started  time.Time
	// attempted is the last start attempt, failed spawns included: the
	// throttle counts from it.
	attempted time.Time
	ready     bool
	// startTimedOut: stopped for not getting ready within StartTimeout.
	startTimedOut bool
	// notReadyLog is when the next "not ready yet" line is due, and
	// notReadyGap the gap to the one after it.
	notReadyLog time.Time
	notReadyGap time.Duration
	lastExit    *ExitInfo
	exits       map[string]uint64
	lastReload  *ReloadInfo
	reloads     map[string]uint64
	waiters     []waiter
	// reloading: a check runs; nextReload holds the replies of requests
	// made meanwhile, all answered by one more reload (see reloadProgram).
	reloading  bool
	nextReload []func(error)
	// checkBegan: the check after a failed start runs since then (see
	// startcheck.go); configErr: it failed, with this reason.
	checkBegan time.Time
	configErr  string

	stdout, stderr *logsink.Sink

	// sched is the schedule of a scheduled program (schedule.go); nil for
	// the others.
	sched *scheduled
}

func (s *Supervisor) newProgram(spec ProgramSpec) *program {
	return &program{
		spec:    spec,
		log:     s.log.With("program", spec.Name),
		since:   s.clock.Now(),
		exits:   map[string]uint64{},
		reloads: map[string]uint64{},
	}
}

// alive: a main process runs (not yet reaped).
func (p *program) alive() bool { return p.pid != 0 && !p.exited }

// down: nothing of the program runs and nothing will start on its own.
func (p *program) down() bool {
	switch p.state {
	case Stopped, Exited, Fatal:
		return p.pgid == 0
	case Backoff:
		return false
	}
	return false
}

// step runs one transition and its actions; events the actions raise are
// queued (see apply).
func (p *program) step(s *Supervisor, e Event) {
	facts := p.facts(s)
	from := p.state
	to, actions := Transition(from, e, facts)
	to, actions = p.scheduledStep(s, from, to, actions) // schedule.go
	if to != from {
		p.state = to
		p.since = s.clock.Now()
		p.log.Debug("state", "from", from.String(), "to", to.String(), "event", e.String())
	}
	for _, a := range actions {
		if next, ok := p.act(s, a); ok {
			s.queue = append(s.queue, queued{p, next})
		}
	}
	if to == Fatal && from != Fatal {
		p.wantDown()
		// FATAL is a failure even when each try exited 0 (too soon).
		code := max(p.exitCode(), 1)
		if p.configErr != "" {
			code = ExitConfigInvalid // logged by configInvalid
		} else {
			p.log.Error("gave up: too many failed starts", "start_retries", p.spec.StartRetries,
				"last_exit", p.lastExitDesc())
		}
		if p.spec.Critical {
			s.requestStop(code, p.spec.Name+" is FATAL")
		}
	}
	s.notifyWaiters()
}

// act performs one action; it returns the event the action raises, if any.
func (p *program) act(s *Supervisor, a Action) (Event, bool) {
	switch a {
	case ActSpawn:
		return p.spawn(s)
	case ActScheduleBackoff:
		d := backoffDelay(p.failures, p.spec.BackoffInitial, p.spec.BackoffMax, s.rnd)
		if !p.checkBegan.IsZero() {
			// The check's run counts as part of the wait.
			d -= s.clock.Now().Sub(p.checkBegan)
			p.checkBegan = time.Time{}
		}
		d = max(d, p.throttleLeft(s), 0)
		p.log.Info("backing off", "delay", d.Round(time.Millisecond), "failures", p.failures)
		p.after(s, d, EvBackoffDone)
	case ActScheduleThrottle:
		d := p.throttleLeft(s)
		p.log.Info("restarting too often: waiting", "delay", d.Round(time.Millisecond))
		p.after(s, d, EvBackoffDone)
	case ActSignalStop:
		if !p.alive() {
			break
		}
		if l := p.spec.Listeners; l != nil && l.BeforeStop != nil {
			l.BeforeStop()
		}
		s.signalStop(p)
		p.after(s, p.stopBudget(s), EvStopTimeout)
	case ActKillGroup:
		p.log.Warn("stop timeout: killing process group", "pid", p.pid, "stop_timeout", p.spec.StopTimeout)
		p.killGroup(s)
	case ActCancelTimers:
		p.gen++
		if p.cancelProbe != nil {
			p.cancelProbe()
			p.probeCtx, p.cancelProbe = nil, nil
		}
		p.ready = false
		p.probePasses, p.probeMisses = 0, 0
	case ActRunning:
		p.ready = true
		p.log.Info("running", "pid", p.pid)
		p.startLiveness(s)
		left := p.started.Add(p.stableRun()).Sub(s.clock.Now())
		if left <= 0 {
			return EvStable, true
		}
		p.after(s, left, EvStable)
	case ActResetFailures:
		p.failures = 0
	case ActCountFailure:
		p.failures++
	case ActRestart:
		// A stable run ended on purpose or not: the first restart is
		// immediate; only failed starts back off.
		return EvStart, true
	case ActEnded:
		p.ended(s)
	case ActStartTimedOut:
		p.startTimedOut = true
		why := p.probeErr
		if why == "" {
			why = "no probe answered"
		}
		p.log.Error("not ready in time: stopping it", "start_timeout", p.spec.Ready.StartTimeout, "err", why)
	case ActStartCheck:
		p.startCheck(s)
	case ActConfigInvalid:
		p.configInvalid()
	}
	return 0, false
}

func (p *program) spawn(s *Supervisor) (Event, bool) {
	p.gen++
	p.attempted = s.clock.Now()
	p.startTimedOut = false
	p.configErr, p.checkBegan = "", time.Time{}
	if p.cancelProbe != nil {
		p.cancelProbe()
		p.probeCtx, p.cancelProbe = nil, nil
	}
	if err := p.openSinks(s.sinks); err != nil {
		p.log.Error("cannot open output", "err", err)
		return EvSpawnFailed, true
	}
	if err := makeRuntimeDirs(p.spec.RuntimeDirectory, p.spec.Credential); err != nil {
		p.log.Warn("runtime directory", "err", err)
	}
	// The program's only descriptors (proc.ForkExec): 0-2, and what is
	// appended here.
	files := []uintptr{s.devNull.Fd(), p.stdout.File().Fd(), p.stderr.File().Fd()}
	env := p.spec.Env
	if l := p.spec.Listeners; l != nil {
		held, err := l.Files()
		if err != nil {
			p.log.Error("cannot pass the held sockets", "err", err)
			return EvSpawnFailed, true
		}
		files = append(files, held...)
		env = append(env[:len(env):len(env)], l.Env...)
	}
	pid, err := s.spawn(p.spec.Command, env, p.spec.Dir, p.spec.Credential, p.spec.AmbientCaps, files, p.spec.Privileges)
	if err != nil {
		p.log.Error("cannot start", "err", err)
		p.lastExit = &ExitInfo{Code: proc.StartCode(err), Desc: err.Error(), Time: s.clock.Now()}
		return EvSpawnFailed, true
	}
	p.pid, p.pgid, p.exited = pid, pid, false
	p.spawns++
	p.started = s.clock.Now()
	s.byPID[pid] = p
	p.log.Info("started", "pid", pid)
	switch {
	case p.spec.Ready != nil:
		p.notReadyGap = notReadyFirst
		p.notReadyLog = p.started.Add(notReadyFirst)
		p.startReadiness(s)
		if d := p.spec.Ready.StartTimeout; d > 0 {
			p.after(s, d, EvStartTimeout)
		}
	case p.spec.StartSeconds <= 0:
		return EvReady, true
	default:
		p.after(s, p.spec.StartSeconds, EvReady)
	}
	return 0, false
}

// after delivers e to the program after d, unless the attempt it belongs to
// is over by then (the generation moved on).
func (p *program) after(s *Supervisor, d time.Duration, e Event) {
	gen := p.gen
	s.clock.AfterFunc(d, func() {
		s.post(func() {
			if p.gen == gen {
				p.apply(s, e)
			}
		})
	})
}

// mainExited records the reaped main process and ends what is left of its
// group: after `kill -9` of the php-fpm master its workers live on holding
// the listen socket and a new master could not bind it. Without held
// sockets they are killed at once; with them, see quitOrphans.
func (p *program) mainExited(s *Supervisor, ws unix.WaitStatus) {
	p.exited = true
	p.exitStatus = ws
	reason := exitReason(ws)
	p.exits[reason]++
	p.lastExit = &ExitInfo{Code: proc.Code(ws), Desc: proc.Describe(ws), Time: s.clock.Now()}
	if p.startTimedOut {
		why := p.probeErr
		if why == "" {
			why = "no probe answered"
		}
		p.lastExit.Desc = fmt.Sprintf("not ready within %s: %s", p.spec.Ready.StartTimeout, why)
	}
	lvl := slog.LevelInfo
	if p.state != Stopping && !p.expectedExit() && p.sched == nil {
		// A scheduled run is meant to end (schedule.go logs its result).
		lvl = slog.LevelWarn
	}
	p.log.Log(context.Background(), lvl, "exited", "pid", p.pid, "status", p.lastExit.Desc,
		"uptime", s.clock.Now().Sub(p.started).Round(time.Millisecond))
	if l := p.spec.Listeners; l != nil && l.AfterExit != nil {
		if err := l.AfterExit(); err != nil {
			p.log.Error("cannot restore the held sockets", "err", err)
		}
	}
	if !reaper.GroupAlive(p.pgid) {
		return
	}
	switch {
	case p.spec.Listeners != nil:
		p.endGroup(s, syscall.SIGQUIT)
	case p.spec.StopAsGroup && p.state == Stopping:
		// The whole group got the stop signal: let the rest finish.
		p.endGroup(s, 0)
	case p.spec.StopAsGroup:
		p.endGroup(s, p.spec.StopSignal)
	default:
		p.log.Info("killing what is left of the process group", "pgid", p.pgid)
		_ = s.kill(-p.pgid, syscall.SIGKILL)
	}
}

// endGroup ends what is left of an exited program's group gracefully, and
// kills it StopTimeout later (less when phpinit's own stop ends sooner).
// For a program with held sockets, sig is QUIT: its workers still accept
// on the sockets and may be in the middle of a request; QUIT lets each
// finish it (connections that come meanwhile wait in the backlog for the
// next start). For a stop_as_group program it is its stop signal, or 0
// when the group got it already (the program was being stopped).
func (p *program) endGroup(s *Supervisor, sig syscall.Signal) {
	pgid := p.pgid
	d := p.stopBudget(s)
	if sig != 0 {
		p.log.Info("stopping what is left of the process group", "pgid", pgid, "signal", sigName(sig), "stop_timeout", d)
		_ = s.kill(-pgid, sig)
	} else {
		p.log.Info("waiting for what is left of the process group", "pgid", pgid, "stop_timeout", d)
	}
	s.clock.AfterFunc(d, func() {
		s.post(func() {
			if p.exited && p.pgid == pgid && reaper.GroupAlive(pgid) {
				p.log.Warn("stop timeout: killing what is left of the process group", "pgid", pgid)
				_ = s.kill(-pgid, syscall.SIGKILL)
			}
		})
	})
}

// checkCleanup delivers EvExit once the exited program's group is empty.
func (p *program) checkCleanup(s *Supervisor) {
	if !p.exited || p.pgid == 0 {
		return
	}
	if reaper.GroupAlive(p.pgid) {
		return
	}
	p.pid, p.pgid, p.exited = 0, 0, false
	p.apply(s, EvExit)
}

func (p *program) exitCode() int {
	if p.lastExit == nil {
		return 1
	}
	return p.lastExit.Code
}

// stopBudget is how long a stop of p may take: its stop_timeout, less when
// phpinit's own stop ends sooner.
func (p *program) stopBudget(s *Supervisor) time.Duration {
	d := p.spec.StopTimeout
	if s.stopping {
		d = max(min(d, s.deadline.Sub(s.clock.Now())), 0)
	}
	return d
}

// signalStop sends the stop signal to the main process, or with
// stop_as_group to its whole process group.
func (s *Supervisor) signalStop(p *program) {
	sig := p.spec.StopSignal
	if !p.spec.StopAsGroup || p.pgid == 0 {
		p.log.Info("stopping", "pid", p.pid, "signal", sigName(sig))
		s.signalProgram(p, sig)
		return
	}
	p.log.Info("stopping", "pid", p.pid, "pgid", p.pgid, "signal", sigName(sig))
	if err := s.kill(-p.pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.log.Warn("cannot signal", "err", fmt.Errorf("cannot send %s to the process group %d of %s: %w", sigName(sig), p.pgid, p.spec.Name, err))
	}
}

func (s *Supervisor) signalProgram(p *program, sig syscall.Signal) {
	if err := s.sendSignal(p, sig); err != nil {
		p.log.Warn("cannot signal", "err", err)
	}
}

// sendSignal signals the program's main process.
func (s *Supervisor) sendSignal(p *program, sig syscall.Signal) error {
	if !p.alive() {
		return fmt.Errorf("cannot signal %s: not running", p.spec.Name)
	}
	if err := s.kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("cannot send %s to %s (pid %d): %w", sigName(sig), p.spec.Name, p.pid, err)
	}
	return nil
}

func (p *program) killGroup(s *Supervisor) {
	if p.pgid != 0 {
		_ = s.kill(-p.pgid, syscall.SIGKILL)
	}
	if p.alive() {
		_ = s.kill(p.pid, syscall.SIGKILL)
	}
}

func (p *program) openSinks(h *logsink.Hub) error {
	var err error
	out, errs := p.spec.Stdout, p.spec.Stderr
	if c := p.spec.Credential; c != nil {
		out.UID, errs.UID = c.Uid, c.Uid
	}
	if p.stdout == nil {
		if p.stdout, err = h.Open(out); err != nil {
			return err
		}
	}
	if p.stderr == nil {
		if p.stderr, err = h.Open(errs); err != nil {
			return err
		}
	}
	return nil
}

func (p *program) closeSinks(log *slog.Logger) {
	for _, sk := range []*logsink.Sink{p.stdout, p.stderr} {
		if sk == nil {
			continue
		}
		if err := sk.Close(2 * time.Second); err != nil {
			log.Warn("output not fully drained", "program", p.spec.Name, "err", err)
		}
	}
	p.stdout, p.stderr = nil, nil
}

// exitReason is the label of phpinit_program_exits_total.
func exitReason(ws unix.WaitStatus) string {
	switch {
	case ws.Signaled():
		return "signal"
	case ws.ExitStatus() == 0:
		return "success"
	}
	return "failure"
}

// sigName is "QUIT" for SIGQUIT, as users write it in the config.
func sigName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return strings.TrimPrefix(n, "SIG")
	}
	return sig.String()
}
