package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/internal/proc"
	"github.com/phpinit/phpinit/supervisor/reaper"
)

// Options configure a Supervisor.
type Options struct {
	Programs []ProgramSpec
	// Grace bounds a whole stop; then every process left is SIGKILLed.
	Grace time.Duration
	// Drain is how long a stop waits with Draining set (so /readyz answers
	// 503 and load balancers move away) before programs are signalled.
	Drain time.Duration
	// Logger receives phpinit's own log; nil discards.
	Logger *slog.Logger
	// Sinks carries children's output; nil: phpinit's stdout and stderr.
	Sinks *logsink.Hub
	// OnHUP is called on the loop, and must not block, when SIGHUP asks for
	// a reload of everything. Nil: each program with a reload signal gets it
	// after its check passes.
	OnHUP func()
	// Clock arms the lifecycle timers; nil is the wall clock.
	Clock Clock
	// Signals is phpinit's signal subscription to LoopSignals, made at its
	// start, with what queued since; nil: Run subscribes itself.
	Signals <-chan os.Signal
}

// Supervisor runs programs. Create it with New, then call Run once.
type Supervisor struct {
	log      *slog.Logger
	sinks    *logsink.Hub
	opts     Options
	progs    map[string]*program
	order    []string
	byPID    map[int]*program
	probes   map[int]chan<- unix.WaitStatus
	events   chan func()
	quit     chan struct{} // closed when Run returns
	snapshot atomic.Pointer[Snapshot]
	devNull  *os.File
	rnd      func() float64
	clock    Clock
	// spawn starts a program's main process (forkProgram; tests fake it).
	spawn func(argv, env []string, dir string, cred *syscall.Credential, caps []uintptr, files []uintptr, priv proc.Privileges) (int, error)
	// kill signals a program's process or group (syscall.Kill; tests fake it).
	kill func(pid int, sig syscall.Signal) error
	// check runs a program's check (runCheck; tests fake it).
	check func(p *program, done func(proc.Result))

	orphans   uint64
	stopping  bool
	draining  bool
	fastStop  bool
	exitCode  int
	deadline  time.Time
	finished  bool
	configGen uint64
	// epoch aligns liveness probes (alignedDelay).
	epoch time.Time

	// queue holds events raised while one is handled; see apply.
	queue      []queued
	delivering bool
}

// New checks the program set and prepares a Supervisor.
func New(o Options) (*Supervisor, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sinks == nil {
		o.Sinks = logsink.NewHub(os.Stdout, os.Stderr, o.Logger)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Grace <= 0 {
		o.Grace = 9 * time.Second
	}
	s := &Supervisor{
		log:    o.Logger,
		sinks:  o.Sinks,
		opts:   o,
		progs:  map[string]*program{},
		byPID:  map[int]*program{},
		probes: map[int]chan<- unix.WaitStatus{},
		events: make(chan func(), 256),
		quit:   make(chan struct{}),
		rnd:    rand.Float64,
		clock:  o.Clock,
		spawn:  forkProgram,
		kill:   syscall.Kill,
	}
	s.check = s.runCheck
	s.epoch = s.clock.Now()
	progs, err := s.withProbers(o.Programs)
	if err != nil {
		return nil, err
	}
	for i := range progs {
		spec := progs[i]
		if len(spec.Command) == 0 {
			return nil, fmt.Errorf("program %s: empty command", spec.Name)
		}
		if _, dup := s.progs[spec.Name]; dup {
			return nil, fmt.Errorf("program %s: defined twice", spec.Name)
		}
		s.progs[spec.Name] = s.newProgram(spec)
	}
	order, err := dependencyOrder(o.Programs)
	if err != nil {
		return nil, err
	}
	s.order = order
	s.publish()
	return s, nil
}

// Snapshot is the latest immutable view of every program; safe from any goroutine.
func (s *Supervisor) Snapshot() *Snapshot { return s.snapshot.Load() }

// post runs fn on the loop goroutine. It is how helper goroutines (timers,
// probes, the control socket, the watcher) touch program state.
func (s *Supervisor) post(fn func()) {
	select {
	case s.events <- fn:
	case <-s.quit:
	}
}

// Do runs fn on the loop and waits for it, or for ctx. It returns an error
// when the loop has finished or ctx ended first.
func (s *Supervisor) Do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case s.events <- func() { fn(); close(done) }:
	case <-s.quit:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-s.quit:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run starts the programs and supervises them until a stop completes. It
// returns phpinit's exit status. Cancelling ctx asks for a graceful stop.
func (s *Supervisor) Run(ctx context.Context) int {
	// Subscribed to SIGCHLD before the first fork, so no exit goes unseen
	// (signals.go says why every other signal is listed).
	sigs := s.opts.Signals
	if sigs == nil {
		own := make(chan os.Signal, 64)
		signal.Notify(own, LoopSignals()...)
		defer signal.Stop(own)
		sigs = own
	}
	if err := reaper.BecomeSubreaper(); err != nil {
		s.log.Warn("orphans will not be reaped", "err", err)
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		s.log.Error("cannot open /dev/null", "err", err)
		return 1
	}
	s.devNull = devNull
	defer devNull.Close()

	// A stop asked for before this point (after the hooks, while the
	// adapters started) means no program starts at all.
	s.handleQueuedSignals(sigs)
	if !s.stopping && !s.draining {
		s.startAll()
	}
	var tick safetyTick
	defer tick.stop()
	done := ctx.Done()
	s.reconcile()
	s.publish()
	for !s.finished {
		select {
		case sig := <-sigs:
			s.handleSignal(sig.(syscall.Signal))
		case fn := <-s.events:
			fn()
		case <-tick.c(s.cleanupPending()):
			s.reap()
		case <-done:
			done = nil
			s.requestStop(0, "context cancelled")
		}
		s.reconcile()
		s.publish()
	}
	close(s.quit)
	s.closeSinks()
	return s.exitCode
}

func (s *Supervisor) handleSignal(sig syscall.Signal) {
	switch sig {
	case syscall.SIGCHLD:
		s.reap()
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
		if (s.stopping || s.draining) && sig != syscall.SIGQUIT {
			s.log.Warn("second stop signal: killing everything now", "signal", sigName(sig))
			s.killEverything()
			return
		}
		s.log.Info("stopping", "signal", sigName(sig))
		s.requestStop(0, "signal "+sigName(sig))
	case syscall.SIGHUP:
		s.log.Info("reloading", "signal", "HUP")
		if s.opts.OnHUP != nil {
			s.opts.OnHUP()
			return
		}
		for _, name := range s.order {
			s.reloadProgram(s.progs[name], nil)
		}
	case syscall.SIGUSR1:
		for _, name := range s.order {
			p := s.progs[name]
			if p.spec.ReopenSignal != 0 && p.alive() {
				s.signalProgram(p, p.spec.ReopenSignal)
			}
		}
	case syscall.SIGPIPE:
		// Not logged: the Go runtime raises it for phpinit's own write to
		// a closed stdout or stderr, and a line about it would raise
		// another.
	default:
		level := slog.LevelInfo
		if quietSignal(sig) {
			level = slog.LevelDebug
		}
		s.log.Log(context.Background(), level, "ignoring signal", "signal", sigName(sig))
	}
}

// handleQueuedSignals handles what is already in sigs, without waiting.
func (s *Supervisor) handleQueuedSignals(sigs <-chan os.Signal) {
	for {
		select {
		case sig := <-sigs:
			s.handleSignal(sig.(syscall.Signal))
		default:
			return
		}
	}
}

// reap collects every exited child and hands each status to its program.
func (s *Supervisor) reap() {
	reaper.Reap(func(e reaper.Exit) {
		if ch, ok := s.probes[e.PID]; ok {
			delete(s.probes, e.PID)
			ch <- e.Status
			return
		}
		p, ok := s.byPID[e.PID]
		if !ok {
			s.orphans++
			return
		}
		delete(s.byPID, e.PID)
		p.mainExited(s, e.Status)
	})
	for _, name := range s.order {
		s.progs[name].checkCleanup(s)
	}
}

// reconcile moves programs toward what is wanted: pending starts whose
// dependencies run, and during a stop, programs nothing depends on anymore.
// startAll asks every program to run, as Run does first; a Manual one
// waits for a request.
func (s *Supervisor) startAll() {
	for _, name := range s.order {
		if !s.progs[name].spec.Manual {
			s.progs[name].goal = GoalUp
		}
	}
	s.armSchedules() // scheduled programs wait for their first tick (schedule.go)
}

func (s *Supervisor) reconcile() {
	s.forgetRemoved()
	if s.stopping {
		s.reconcileStop()
		return
	}
	for _, name := range s.order {
		p := s.progs[name]
		p.pursueGoal(s)
		if p.goal == GoalUp && p.idle() && s.depsRunning(p) {
			p.apply(s, EvStart)
		}
	}
}

func (s *Supervisor) depsRunning(p *program) bool {
	for _, d := range p.spec.DependsOn {
		if q, ok := s.progs[d]; !ok || q.state != Running {
			return false
		}
	}
	return true
}

func (s *Supervisor) closeSinks() {
	for _, name := range s.order {
		s.progs[name].closeSinks(s.log)
	}
}

// dependencyOrder lists programs so dependencies come first, otherwise in
// the order given (the caller passes config.Order: priority, then name); a
// cycle or an unknown dependency is an error.
func dependencyOrder(specs []ProgramSpec) ([]string, error) {
	deps := map[string][]string{}
	for _, sp := range specs {
		deps[sp.Name] = sp.DependsOn
	}
	// In the caller's order where dependencies allow: config.Order has
	// already placed ties by priority, then name.
	names := make([]string, 0, len(specs))
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	const (
		unvisited = iota
		visiting
		visited
	)
	mark := map[string]int{}
	var order []string
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch mark[n] {
		case visiting:
			return fmt.Errorf("dependency cycle: %v", append(path, n))
		case visited:
			return nil
		}
		if _, ok := deps[n]; !ok {
			return fmt.Errorf("program %s: depends on unknown program", path[len(path)-1])
		}
		mark[n] = visiting
		for _, d := range deps[n] {
			if err := visit(d, append(path, n)); err != nil {
				return err
			}
		}
		mark[n] = visited
		order = append(order, n)
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
