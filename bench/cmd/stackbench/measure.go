package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Result is one measurement of one contender; the jsonl file holds one per line.
type Result struct {
	Measure string `json:"measure"` // startup, rss, wakeups, orphans, restart
	Init    string `json:"init"`
	Unit    string `json:"unit"`
	// Value is the median of Samples when there are several.
	Value   float64   `json:"value"`
	Samples []float64 `json:"samples,omitempty"`
	// TimedOut: the bench gave up after Limit (in Unit); Value is then Limit.
	TimedOut bool               `json:"timed_out,omitempty"`
	Limit    float64            `json:"limit,omitempty"`
	Extra    map[string]float64 `json:"extra,omitempty"`
	Note     string             `json:"note,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// startupOnce execs the init and polls the PHP page every millisecond;
// the time is from just before the exec to the first 200 from PHP.
func startupOnce(e env, name, tag string) (time.Duration, error) {
	st, err := startStack(e, name, tag)
	if err != nil {
		return 0, err
	}
	defer st.Stop()
	at, err := pollPage(newClient(), e.url(), st.Started.Add(30*time.Second), st.done, phpAnswered, nil)
	if err != nil {
		return 0, fmt.Errorf("%s never served PHP: %w", name, err)
	}
	return at.Sub(st.Started), nil
}

// measureStartup runs rounds of every init in turn (so drift and noise
// spread over all of them), after one warm-up round that is not counted.
func measureStartup(e env, inits []string, runs int, progress io.Writer) ([]Result, error) {
	samples := map[string][]float64{}
	for round := 0; round <= runs; round++ {
		for _, name := range inits {
			d, err := startupOnce(e, name, "startup")
			if err != nil {
				return nil, err
			}
			if round == 0 {
				fmt.Fprintf(progress, "startup %-11s warm-up %7.1f ms\n", name, ms(d))
				continue
			}
			samples[name] = append(samples[name], ms(d))
			fmt.Fprintf(progress, "startup %-11s run %2d  %7.1f ms\n", name, round, ms(d))
			time.Sleep(100 * time.Millisecond)
		}
	}
	var out []Result
	for _, name := range inits {
		s := samples[name]
		out = append(out, Result{Measure: "startup", Init: name, Unit: "ms", Value: median(s), Samples: s,
			Extra: map[string]float64{"min": slices.Min(s), "max": slices.Max(s)}})
	}
	return out, nil
}

// upAndSettled starts the init, waits for PHP to answer, then lets it
// settle (both supervisors count a start after 1 s).
func upAndSettled(e env, name, tag string, settle time.Duration) (*stack, int, error) {
	st, err := startStack(e, name, tag)
	if err != nil {
		return nil, 0, err
	}
	if _, err := pollPage(newClient(), e.url(), time.Now().Add(30*time.Second), st.done, phpAnswered, nil); err != nil {
		st.Stop()
		return nil, 0, fmt.Errorf("%s never served PHP: %w", name, err)
	}
	pid, err := st.InitPID()
	if err != nil {
		st.Stop()
		return nil, 0, err
	}
	time.Sleep(settle)
	return st, pid, nil
}

// measureIdle reads the init's VmRSS once the stack is up and idle, then
// counts its context switches and CPU time (all threads) over window.
func measureIdle(e env, name string, settle, window time.Duration) ([]Result, error) {
	st, pid, err := upAndSettled(e, name, "idle", settle)
	if err != nil {
		return nil, err
	}
	defer st.Stop()
	rss, threads, parts, err := memory(pid)
	if err != nil {
		return nil, err
	}
	c0, err0 := ctxSwitches(pid)
	cpu0, err1 := cpuTime(pid)
	t0 := time.Now()
	time.Sleep(window)
	c1, err2 := ctxSwitches(pid)
	cpu1, err3 := cpuTime(pid)
	secs := time.Since(t0).Seconds()
	if err := errors.Join(err0, err1, err2, err3); err != nil {
		return nil, err
	}
	return []Result{
		{Measure: "rss", Init: name, Unit: "KiB", Value: float64(rss),
			Extra: map[string]float64{"threads": float64(threads),
				"anon_kib": float64(parts["anon_kib"]), "file_kib": float64(parts["file_kib"])}},
		{Measure: "wakeups", Init: name, Unit: "/s", Value: float64(c1-c0) / secs,
			Extra: map[string]float64{"switches": float64(c1 - c0), "window_s": secs}},
		{Measure: "idle_cpu", Init: name, Unit: "µs/s", Value: float64((cpu1 - cpu0).Microseconds()) / secs,
			Extra: map[string]float64{"cpu_ms": ms(cpu1 - cpu0), "window_s": secs}},
	}, nil
}
