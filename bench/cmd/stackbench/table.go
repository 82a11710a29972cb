package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// row is one line of the table: a measurement, lower is better for all.
type row struct {
	measure, title string
	// better and worse name the direction: "faster"/"slower", "less"/"more".
	better, worse string
}

var rows = []row{
	{"startup", "exec → first PHP 200 through nginx (median of %d)", "faster", "slower"},
	{"rss", "memory of the init itself (VmRSS, idle)", "less", "more"},
	{"wakeups", "idle wakeups of the init (context switches/s over %d s)", "fewer", "more"},
	{"idle_cpu", "idle CPU time of the init (over %d s)", "less", "more"},
	{"orphans", "%s orphans exiting %s: last exit → no zombie left", "faster", "slower"},
	{"restart", "kill -9 php-fpm master → PHP from a new master (no traffic)", "faster", "slower"},
	{"restart_traffic", "the same under 1 request/ms", "faster", "slower"},
	{"load_kill9_fpm", "4 clients: requests failed across kill -9 of the php-fpm master (time until a new master serves)", "fewer", "more"},
	{"load_restart_fpm", "4 clients: requests failed across a restart of php-fpm (ctl restart, supervisorctl restart, s6-svc -r)", "fewer", "more"},
	{"load_restart_nginx", "4 clients: requests failed across a restart of nginx (the same)", "fewer", "more"},
}

// columns are the contenders of the table, in order.
var columns = []string{"phpinit", "supervisord", "s6", "tini", "byhand"}

func table(path string, stdout, stderr io.Writer) int {
	res, err := readResults(path)
	if err != nil {
		fmt.Fprintln(stderr, "stackbench:", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	fmt.Fprintln(w, "| measurement | phpinit | supervisord | s6 | tini | by hand | phpinit vs supervisord | phpinit vs tini |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|---|---|")
	for _, rw := range rows {
		byInit := res[rw.measure]
		if len(byInit) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s |", title(rw, byInit))
		for _, name := range columns {
			fmt.Fprintf(w, " %s |", cell(byInit[name]))
		}
		p := byInit["phpinit"]
		if strings.HasPrefix(rw.measure, "load_") {
			fmt.Fprintln(w, " — | — |")
			continue
		}
		fmt.Fprintf(w, " %s | %s |\n", ratio(rw, p, byInit["supervisord"]), ratio(rw, p, byInit["tini"]))
	}
	fmt.Fprintln(w)
	details(w, res)
	return 0
}

func title(rw row, byInit map[string]*Result) string {
	if !strings.Contains(rw.title, "%") {
		return rw.title
	}
	n := 0
	for _, r := range byInit {
		switch rw.measure {
		case "startup":
			n = len(r.Samples)
		case "orphans":
			over := "all at once"
			if w := r.Extra["release_window_s"]; w > 0 {
				over = fmt.Sprintf("over %g s", w)
			}
			return fmt.Sprintf(rw.title, thousands(int(r.Extra["orphans"])), over)
		default:
			n = int(r.Extra["window_s"] + 0.5)
		}
	}
	return fmt.Sprintf(rw.title, n)
}

// thousands writes 5000 as 5,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func readResults(path string) (map[string]map[string]*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read results: %w", err)
	}
	defer f.Close()
	out := map[string]map[string]*Result{}
	dec := json.NewDecoder(f)
	for dec.More() {
		var r Result
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("cannot parse %s: %w", path, err)
		}
		if out[r.Measure] == nil {
			out[r.Measure] = map[string]*Result{}
		}
		out[r.Measure][r.Init] = &r // a later line replaces an earlier one
	}
	return out, nil
}

// amount formats a value in its unit: ms below 10 with a decimal, seconds
// from 10 s, KiB as MiB.
func amount(v float64, unit string) string {
	switch unit {
	case "ms":
		switch {
		case v < 10:
			return fmt.Sprintf("%.1f ms", v)
		case v < 1000:
			return fmt.Sprintf("%.0f ms", v)
		case v < 10000:
			return fmt.Sprintf("%.2f s", v/1000)
		}
		return fmt.Sprintf("%.1f s", v/1000)
	case "KiB":
		return fmt.Sprintf("%.1f MiB", v/1024)
	case "/s":
		return fmt.Sprintf("%.1f /s", v)
	case "µs/s":
		return fmt.Sprintf("%.3f%% CPU", v/1e4)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

func cell(r *Result) string {
	switch {
	case r == nil:
		return "—"
	case r.Extra["pid1_exited"] == 1 && r.Unit == "failed":
		return fmt.Sprintf("%.0f, then the container exits", r.Value)
	case r.Extra["pid1_exited"] == 1 || strings.HasPrefix(r.Note, "PID 1 exited"):
		return "container exits"
	case r.Unit == "failed" && r.Extra["recovery_timed_out"] == 1:
		return fmt.Sprintf("%.0f (not back in %s)", r.Value, amount(r.Limit, "ms"))
	case r.Unit == "failed":
		return fmt.Sprintf("%.0f (%s)", r.Value, amount(r.Extra["recovery_ms"], "ms"))
	case r.TimedOut && strings.HasPrefix(r.Measure, "restart"):
		return "never (> " + amount(r.Limit, r.Unit) + ")"
	case r.TimedOut:
		return "> " + amount(r.Limit, r.Unit)
	}
	return amount(r.Value, r.Unit)
}

// ratio says how phpinit compares with supervisord.
func ratio(rw row, p, s *Result) string {
	switch {
	case p == nil || s == nil || p.TimedOut:
		return "—"
	case s.Extra["pid1_exited"] == 1 || strings.HasPrefix(s.Note, "PID 1 exited"):
		return "—" // no restart to compare with: the container ends
	case p.Value <= 0:
		return "—"
	case s.TimedOut:
		return fmt.Sprintf("> %s× %s", strings.TrimPrefix(factor(s.Limit/p.Value), "> "), rw.better)
	case p.Value <= s.Value:
		return fmt.Sprintf("%s× %s", factor(s.Value/p.Value), rw.better)
	}
	return fmt.Sprintf("%s× %s", factor(p.Value/s.Value), rw.worse)
}

// factor rounds a ratio; beyond 1,000 the measurement's resolution, not
// the ratio, is what the number would show.
func factor(f float64) string {
	if f >= 1000 {
		return "> 1,000"
	}
	if f >= 10 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

// describe is one result on one line, for progress output and the details.
func describe(r Result) string {
	var b strings.Builder
	b.WriteString(cell(&r))
	if len(r.Samples) > 1 {
		fmt.Fprintf(&b, " (median; samples:")
		for _, s := range r.Samples {
			fmt.Fprintf(&b, " %.1f", s)
		}
		b.WriteString(" ms)")
	}
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := r.Extra[k]
		if v == float64(int64(v)) {
			fmt.Fprintf(&b, " %s=%d", k, int64(v))
		} else {
			fmt.Fprintf(&b, " %s=%.1f", k, v)
		}
	}
	if r.Note != "" {
		b.WriteString("; " + r.Note)
	}
	return b.String()
}

func details(w io.Writer, res map[string]map[string]*Result) {
	fmt.Fprintln(w, "Details:")
	fmt.Fprintln(w)
	for _, rw := range rows {
		for _, name := range []string{"phpinit", "phpinit-noprobe", "supervisord", "s6", "tini", "byhand"} {
			if r := res[rw.measure][name]; r != nil {
				fmt.Fprintf(w, "- %s, %s: %s\n", rw.measure, name, describe(*r))
			}
		}
	}
}
