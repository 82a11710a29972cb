package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpinit/phpinit/internal/probe"
	"github.com/phpinit/phpinit/internal/proc"
)

// recordSpawns makes h remember the fake time of every spawn.
func (h *loopHarness) recordSpawns() *[]time.Time {
	var at []time.Time
	spawn := h.s.spawn
	h.s.spawn = func(argv, env []string, dir string, cred *syscall.Credential, caps []uintptr, files []uintptr, priv proc.Privileges) (int, error) {
		at = append(at, h.clock.Now())
		return spawn(argv, env, dir, cred, caps, files, priv)
	}
	return &at
}

// async runs a request that needs the loop (Start, Stop, ...) while the
// test goroutine plays the loop, and returns a function that waits for its
// answer, settling meanwhile.
func (h *loopHarness) async(req func(ctx context.Context) error) func() error {
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	go func() { done <- req(ctx) }()
	// Let the request reach the loop before the test goes on.
	for deadline := time.Now().Add(10 * time.Second); len(h.s.events) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	h.settle()
	return func() error {
		h.t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			h.settle()
			select {
			case err := <-done:
				return err
			default:
				time.Sleep(time.Millisecond)
			}
		}
		h.t.Fatal("request did not return")
		return nil
	}
}

// A program that exits at once with start_seconds 0 is shown RUNNING for
// an instant, but each such run is a failed start: starts are at least a
// second apart (the throttle wins over a shorter backoff) and it goes
// FATAL after start_retries.
func TestShortRunsAreThrottledAndGoFatal(t *testing.T) {
	sp := fakeSpec("storm")
	sp.StartSeconds = 0
	sp.BackoffInitial = 100 * time.Millisecond
	sp.BackoffMax = 200 * time.Millisecond
	h := newLoopHarness(t)
	at := h.recordSpawns()
	h.update(sp)
	for i := 0; i < sp.StartRetries; i++ {
		h.want("storm", Running)
		h.exit("storm", 0)
		if p := h.want("storm", Backoff); p.failures != i+1 {
			t.Fatalf("after short run %d: %d failures", i+1, p.failures)
		}
		h.advance(999 * time.Millisecond)
		h.want("storm", Backoff)
		h.advance(time.Millisecond)
	}
	h.want("storm", Running)
	h.exit("storm", 0)
	h.want("storm", Fatal)
	if len(*at) != 1+sp.StartRetries {
		t.Errorf("%d starts, want %d", len(*at), 1+sp.StartRetries)
	}
	for i := 1; i < len(*at); i++ {
		if gap := (*at)[i].Sub((*at)[i-1]); gap < minStableRun {
			t.Errorf("start %d only %v after the previous one", i+1, gap)
		}
	}
}

// A worker that exits 0 on purpose after a stable run is restarted at
// once, without counting a failure, however often.
func TestPlannedExitRestartsAtOnce(t *testing.T) {
	h := newLoopHarness(t)
	h.update(fakeSpec("worker")) // start_seconds 2s, start_retries 3
	for i := 0; i < 20; i++ {
		h.advance(2 * time.Second)
		h.want("worker", Running)
		h.advance(time.Second)
		h.exit("worker", 0)
		if p := h.want("worker", Starting); p.failures != 0 {
			t.Fatalf("planned exit %d counted as a failure (%d)", i+1, p.failures)
		}
	}
	if got := h.s.progs["worker"].spawns; got != 21 {
		t.Errorf("%d spawns, want 21", got)
	}
}

// autorestart unexpected restarts unless the status is in exitcodes.
func TestAutorestartUnexpected(t *testing.T) {
	sp := fakeSpec("worker")
	sp.Restart = RestartUnexpected
	sp.ExitCodes = []int{0, 3}
	h := newLoopHarness(t)
	h.update(sp)
	for _, c := range []struct {
		code    int
		restart bool
	}{{4, true}, {-9, true}, {3, false}} {
		h.advance(3 * time.Second)
		h.want("worker", Running)
		h.exit("worker", c.code)
		p := h.s.progs["worker"]
		if got := p.state == Starting; got != c.restart {
			t.Fatalf("exit %d: %s, restart %v wanted", c.code, p.state, c.restart)
		}
	}
	if p := h.want("worker", Exited); p.goal != GoalDown {
		t.Errorf("expected exit leaves goal %s", p.goal)
	}
}

// The failure streak survives getting ready and resets only after a
// stable run: a program that crashes 100 ms after each ready goes FATAL.
func TestFailureStreakResetsAfterStableRun(t *testing.T) {
	sp := fakeSpec("web")
	sp.StartSeconds = 0
	h := newLoopHarness(t)
	h.update(sp)
	for i := 1; i <= 2; i++ {
		h.advance(100 * time.Millisecond)
		h.exit("web", 1)
		h.want("web", Backoff)
		h.advance(time.Duration(i) * sp.BackoffInitial) // the backoff exactly
	}
	p := h.want("web", Running)
	if p.failures != 2 {
		t.Fatalf("ready again: %d failures, want the streak of 2 kept", p.failures)
	}
	h.advance(minStableRun)
	if p.failures != 0 {
		t.Fatalf("after a stable run: %d failures, want 0", p.failures)
	}
	h.advance(time.Minute)
	h.exit("web", 1)
	if p := h.want("web", Running); p.failures != 0 || p.spawns != 4 {
		t.Errorf("exit after a stable run: %d failures", p.failures)
	}
}

// blockingProber never answers: the test reports probe results itself.
type blockingProber struct{}

func (blockingProber) Probe(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func notReadySpec(name string) ProgramSpec {
	sp := fakeSpec(name)
	sp.StartRetries = 1
	sp.ReloadSignal = syscall.SIGUSR2
	sp.Ready = &ProbeSpec{Probe: probe.Spec{TCP: "127.0.0.1:1"}, Prober: blockingProber{},
		Interval: time.Second, FailureThreshold: 3, SuccessThreshold: 1, StartTimeout: 10 * time.Second}
	return sp
}

// A start that never gets ready is stopped at ready.start_timeout and
// counts as failed: backoff, then FATAL with the probe's last error.
func TestStartTimeoutIsAFailedStart(t *testing.T) {
	h := newLoopHarness(t)
	h.update(notReadySpec("fpm"))
	for try := 1; try <= 2; try++ {
		p := h.want("fpm", Starting)
		p.readinessResult(h.s, errors.New("dial unix /run/php/status.sock: no such file or directory"))
		h.advance(10 * time.Second)
		h.want("fpm", Stopping)
		h.exit("fpm", 0)
		if try == 1 {
			h.want("fpm", Backoff)
			h.advance(time.Second)
		}
	}
	p := h.want("fpm", Fatal)
	if d := p.lastExitDesc(); !strings.Contains(d, "not ready within 10s: dial unix /run/php/status.sock") {
		t.Errorf("last exit %q does not say why", d)
	}
	if sn, _ := h.s.Snapshot().Program("fpm"); !strings.Contains(sn.LastExit.Desc, "no such file") || sn.State != "FATAL" {
		t.Errorf("status %+v", sn)
	}
}

// A reload of a program that is not ready yet restarts it (with the new
// config) instead of waiting for it to run.
func TestReloadWhileStartingRestarts(t *testing.T) {
	h := newLoopHarness(t)
	h.update(notReadySpec("fpm"))
	h.advance(2 * time.Second)
	p := h.want("fpm", Starting)
	spawns := p.spawns
	var got []error
	h.s.reloadProgram(p, func(err error) { got = append(got, err) })
	h.want("fpm", Stopping)
	h.exit("fpm", 0)
	if p := h.want("fpm", Starting); p.spawns != spawns+1 || p.failures != 0 {
		t.Errorf("spawns %d -> %d, failures %d", spawns, p.spawns, p.failures)
	}
	if len(got) != 1 || got[0] != nil {
		t.Errorf("reload replies %v, want one nil", got)
	}
}

// `ctl restart` racing `ctl stop`, either way round, both return and leave
// a state that agrees with the last request.
func TestRestartRacingStop(t *testing.T) {
	t.Run("restart then stop", func(t *testing.T) {
		h := newLoopHarness(t, fakeSpecNoDelay("web"))
		h.advance(minStableRun)
		restart := h.async(func(ctx context.Context) error { return h.s.Restart(ctx, "web") })
		h.want("web", Stopping)
		stop := h.async(func(ctx context.Context) error { return h.s.Stop(ctx, "web") })
		h.exit("web", -15)
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := restart(); err == nil || !strings.Contains(err.Error(), "stopped") {
			t.Errorf("restart: %v, want an error saying it was stopped", err)
		}
		h.advance(time.Minute)
		h.want("web", Stopped)
	})
	t.Run("stop then restart", func(t *testing.T) {
		h := newLoopHarness(t, fakeSpecNoDelay("web"))
		h.advance(minStableRun)
		stop := h.async(func(ctx context.Context) error { return h.s.Stop(ctx, "web") })
		h.want("web", Stopping)
		restart := h.async(func(ctx context.Context) error { return h.s.Restart(ctx, "web") })
		h.exit("web", -15)
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := restart(); err != nil {
			t.Errorf("restart: %v", err)
		}
		h.want("web", Running)
	})
}

// `ctl start nginx` with php-fpm stopped returns at once, saying so; one
// waiting for a dependency that then goes FATAL returns when it does.
func TestStartWithDependencyDown(t *testing.T) {
	fpm, nginx := fakeSpecNoDelay("php-fpm"), fakeSpecNoDelay("nginx")
	nginx.DependsOn = []string{"php-fpm"}
	h := newLoopHarness(t, fpm, nginx)
	h.advance(minStableRun)
	for _, name := range []string{"nginx", "php-fpm"} {
		stop := h.async(func(ctx context.Context) error { return h.s.Stop(ctx, name) })
		h.exit(name, 0)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	err := h.async(func(ctx context.Context) error { return h.s.Start(ctx, "nginx") })()
	if err == nil || !strings.Contains(err.Error(), "waiting for php-fpm, which is STOPPED") {
		t.Fatalf("start nginx: %v", err)
	}
	h.want("nginx", Stopped)

	// php-fpm is started but crash-loops to FATAL while nginx waits.
	h.s.progs["php-fpm"].spec.StartSeconds = 2 * time.Second
	h.s.progs["php-fpm"].spec.StartRetries = 0
	startFPM := h.async(func(ctx context.Context) error { return h.s.Start(ctx, "php-fpm") })
	startNginx := h.async(func(ctx context.Context) error { return h.s.Start(ctx, "nginx") })
	h.exit("php-fpm", 1)
	h.want("php-fpm", Fatal)
	if err := startFPM(); err == nil {
		t.Error("start php-fpm: no error for FATAL")
	}
	if err := startNginx(); err == nil || !strings.Contains(err.Error(), "php-fpm, which is FATAL") {
		t.Errorf("start nginx: %v", err)
	}
}

// A start that is not ready yet is logged with the probe's error after a
// few seconds, then at doubling gaps, not at every probe.
func TestNotReadyLoggedWithBackoff(t *testing.T) {
	sp := notReadySpec("fpm")
	sp.Ready.StartTimeout = time.Minute
	h := newLoopHarness(t)
	h.update(sp)
	p := h.want("fpm", Starting)
	var buf strings.Builder
	p.log = slog.New(slog.NewTextHandler(&buf, nil))
	var logged []time.Duration
	for elapsed := time.Duration(0); elapsed <= 30*time.Second; elapsed += 500 * time.Millisecond {
		before := buf.Len()
		p.readinessResult(h.s, errors.New("connection refused"))
		if buf.Len() > before {
			logged = append(logged, elapsed)
		}
		h.advance(500 * time.Millisecond)
	}
	want := []time.Duration{3 * time.Second, 6 * time.Second, 12 * time.Second, 24 * time.Second}
	if !slices.Equal(logged, want) {
		t.Errorf("logged at %v, want %v", logged, want)
	}
	if !strings.Contains(buf.String(), `msg="not ready yet"`) || !strings.Contains(buf.String(), "err=\"connection refused\"") {
		t.Errorf("log lines:\n%s", buf.String())
	}
}
