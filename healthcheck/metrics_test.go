package healthcheck

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/phpinit/phpinit/hooks"
	"github.com/phpinit/phpinit/internal/logsink"
	"github.com/phpinit/phpinit/supervisor"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

// metricsSnapshot is the fixed state behind the golden file.
func metricsSnapshot() *supervisor.Snapshot {
	started := time.Unix(1700000000, 250_000_000)
	return &supervisor.Snapshot{
		OrphansReaped: 7,
		Programs: []supervisor.ProgramStatus{
			{
				Name: "php-fpm", State: "RUNNING", PID: 100, Critical: true, Ready: true,
				Started: started, Restarts: 2,
				Exits:   map[string]uint64{"failure": 1, "signal": 1},
				Reloads: map[string]uint64{"ok": 3, "check_failed": 1},
			},
			{
				Name: "nginx", State: "RUNNING", PID: 200, Critical: true, Ready: false,
				Started: started.Add(time.Second),
			},
			{
				Name: "worker", State: "BACKOFF", Critical: false, Restarts: 4,
				Started: started, Exits: map[string]uint64{"failure": 5},
			},
			{Name: "cron", State: "STOPPED"},
		},
	}
}

// writeFakeProc makes a /proc with php-fpm (100: master, which reaped
// workers that used 40+2 ticks, workers 101, 102, 102's child 103), nginx
// (200, worker 201), and unrelated processes.
func writeFakeProc(t *testing.T) procFS {
	t.Helper()
	root := t.TempDir()
	procs := []struct {
		pid, ppid   int
		comm        string
		utime, stim int
		rssPages    int
		cutime      int // and cstime 2 when set
		pssKB       int // 0: no smaps_rollup
	}{
		{1, 0, "phpinit", 50, 50, 1000, 0, 0},
		{100, 1, "php-fpm: master process (/etc/php.conf)", 150, 50, 2000, 40, 5000},
		{101, 100, "php-fpm: pool www", 300, 100, 3000, 0, 3000},
		{102, 100, "php-fpm: pool www", 10, 0, 3000, 0, 3000},
		{103, 102, "sh) 1 (odd", 1, 1, 10, 0, 20},
		{200, 1, "nginx", 20, 5, 500, 0, 1000},
		{201, 200, "nginx", 75, 0, 700, 0, 1500},
		{300, 1, "other", 999, 999, 9999, 0, 0},
	}
	for _, p := range procs {
		dir := filepath.Join(root, itoa(p.pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cst := 0
		if p.cutime > 0 {
			cst = 2
		}
		stat := itoa(p.pid) + " (" + p.comm + ") S " + itoa(p.ppid) +
			" 1 1 0 -1 4194560 100 0 0 0 " + itoa(p.utime) + " " + itoa(p.stim) + " " + itoa(p.cutime) + " " + itoa(cst) +
			" 20 0 1 0 100 1000000 " + itoa(p.rssPages) + " 0\n"
		if p.pssKB > 0 {
			rollup := "00400000-7ffd0000 ---p 00000000 00:00 0                          [rollup]\nRss:   1 kB\nPss:   " +
				itoa(p.pssKB) + " kB\nPss_Anon:   1 kB\n"
			if err := os.WriteFile(filepath.Join(dir, "smaps_rollup"), []byte(rollup), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		statm := "5000 " + itoa(p.rssPages) + " 100 10 0 200 0\n"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "statm"), []byte(statm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not processes: skipped.
	_ = os.MkdirAll(filepath.Join(root, "self"), 0o755)
	_ = os.WriteFile(filepath.Join(root, "uptime"), []byte("1 1\n"), 0o644)
	return procFS{root: root, pageSize: 4096}
}

func itoa(n int) string { return strconv.Itoa(n) }

func goldenOptions(t *testing.T) ServerOptions {
	return ServerOptions{
		Source: newFakeSource(metricsSnapshot()),
		LogDrops: func() []logsink.Drop {
			return []logsink.Drop{{Program: "nginx", Stream: "stderr", Lines: 12}, {Program: "php-fpm", Stream: "stdout", Lines: 0}}
		},
		ConfigReloads: func() map[string]uint64 { return map[string]uint64{"ok": 2} },
		WatchErrors:   func() uint64 { return 1 },
		Hooks: []hooks.HookDuration{
			{Hook: "/data/script/script.sh", Duration: 1500 * time.Millisecond},
			{Hook: "/data/script/init.d/10-migrate", Duration: 250 * time.Millisecond},
		},
		proc: writeFakeProc(t),
	}
}

func scrape(t *testing.T, o ServerOptions) string {
	t.Helper()
	code, body := do(t, newTestServer(t, o).Handler(), "GET", "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	return body
}

func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("cannot parse /metrics: %v\n%s", err, body)
	}
	return mfs
}

// phpinitPart is the phpinit_* lines of a scrape, with the Go version
// normalised.
func phpinitPart(body string) string {
	goVersion := regexp.MustCompile(`goversion="[^"]*"`)
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if strings.HasPrefix(name, "phpinit_") {
			b.WriteString(goVersion.ReplaceAllString(line, `goversion="GOVERSION"`) + "\n")
		}
	}
	return b.String()
}

func TestMetricsGolden(t *testing.T) {
	got := phpinitPart(scrape(t, goldenOptions(t)))
	path := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestMetricsGolden -update)", err)
	}
	if got != string(want) {
		t.Errorf("phpinit metrics differ from %s (run go test -run TestMetricsGolden -update and review the diff)\ngot:\n%s", path, got)
	}
}

// Every phpinit_* family is there with its type and label names, next to
// the Go and process collectors.
func TestMetricsFamilies(t *testing.T) {
	mfs := parseMetrics(t, scrape(t, goldenOptions(t)))
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	for name, want := range map[string]struct {
		typ    dto.MetricType
		labels []string
	}{
		"phpinit_program_up":                 {gauge, []string{"program"}},
		"phpinit_program_state":              {gauge, []string{"program", "state"}},
		"phpinit_program_restarts_total":     {counter, []string{"program"}},
		"phpinit_program_exits_total":        {counter, []string{"program", "reason"}},
		"phpinit_program_start_time_seconds": {gauge, []string{"program"}},
		"phpinit_program_ready":              {gauge, []string{"program"}},
		"phpinit_program_cpu_seconds_total":  {counter, []string{"program"}},
		"phpinit_program_memory_rss_bytes":   {gauge, []string{"program"}},
		"phpinit_reloads_total":              {counter, []string{"program", "result"}},
		"phpinit_config_reloads_total":       {counter, []string{"result"}},
		"phpinit_orphans_reaped_total":       {counter, nil},
		"phpinit_log_lines_dropped_total":    {counter, []string{"program", "stream"}},
		"phpinit_hook_duration_seconds":      {gauge, []string{"hook"}},
		"phpinit_build_info":                 {gauge, []string{"goversion", "version"}},
	} {
		mf, ok := mfs[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if mf.GetType() != want.typ {
			t.Errorf("%s is %v, want %v", name, mf.GetType(), want.typ)
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
			}
			if !slices.Equal(labels, want.labels) {
				t.Errorf("%s has labels %q, want %q", name, labels, want.labels)
			}
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	// One-hot: every program has all 7 states, exactly one of them 1.
	states := map[string][]string{}
	for _, m := range mfs["phpinit_program_state"].GetMetric() {
		lv := labelValues(m)
		if m.GetGauge().GetValue() == 1 {
			states[lv["program"]] = append(states[lv["program"]], lv["state"])
		}
	}
	if n := len(mfs["phpinit_program_state"].GetMetric()); n != 4*7 {
		t.Errorf("%d state series, want 28", n)
	}
	for prog, want := range map[string]string{"php-fpm": "RUNNING", "worker": "BACKOFF", "cron": "STOPPED"} {
		if !slices.Equal(states[prog], []string{want}) {
			t.Errorf("%s states %v, want [%s]", prog, states[prog], want)
		}
	}
	if v := value(t, mfs, "phpinit_build_info", map[string]string{"goversion": runtime.Version()}); v != 1 {
		t.Errorf("build_info %v", v)
	}
}

// The process tree sums a program's descendants and nothing else.
func TestMetricsProcessTree(t *testing.T) {
	mfs := parseMetrics(t, scrape(t, goldenOptions(t)))
	for _, tc := range []struct {
		metric, program string
		want            float64
	}{
		{"phpinit_program_cpu_seconds_total", "php-fpm", (150 + 50 + 40 + 2 + 300 + 100 + 10 + 0 + 1 + 1) / 100.0},
		{"phpinit_program_memory_pss_bytes", "php-fpm", (5000 + 3000 + 3000 + 20) << 10},
		{"phpinit_program_memory_pss_bytes", "nginx", (1000 + 1500) << 10},
		{"phpinit_program_memory_rss_bytes", "php-fpm", (2000 + 3000 + 3000 + 10) * 4096},
		{"phpinit_program_cpu_seconds_total", "nginx", (20 + 5 + 75) / 100.0},
		{"phpinit_program_memory_rss_bytes", "nginx", (500 + 700) * 4096},
	} {
		if got := value(t, mfs, tc.metric, map[string]string{"program": tc.program}); got != tc.want {
			t.Errorf("%s{program=%q} = %v, want %v", tc.metric, tc.program, got, tc.want)
		}
	}
	// No PID: no CPU or memory series.
	for _, m := range mfs["phpinit_program_memory_rss_bytes"].GetMetric() {
		if p := labelValues(m)["program"]; p == "worker" || p == "cron" {
			t.Errorf("rss for %s, which has no process", p)
		}
	}
}

// Without a snapshot or optional feeds the page still renders, and the
// fixed label values are there with zeros.
func TestMetricsEmpty(t *testing.T) {
	sn := &supervisor.Snapshot{Programs: []supervisor.ProgramStatus{{Name: "nginx", State: "STARTING"}}}
	mfs := parseMetrics(t, scrape(t, ServerOptions{Source: newFakeSource(sn)}))
	for _, want := range []struct {
		name   string
		labels map[string]string
	}{
		{"phpinit_reloads_total", map[string]string{"program": "nginx", "result": "signal_failed"}},
		{"phpinit_program_exits_total", map[string]string{"program": "nginx", "reason": "success"}},
		{"phpinit_config_reloads_total", map[string]string{"result": "invalid"}},
		{"phpinit_orphans_reaped_total", nil},
	} {
		if v := value(t, mfs, want.name, want.labels); v != 0 {
			t.Errorf("%s%v = %v", want.name, want.labels, v)
		}
	}
	if _, ok := mfs["phpinit_program_start_time_seconds"]; ok {
		t.Error("start time for a program that never started")
	}

	mfs = parseMetrics(t, scrape(t, ServerOptions{Source: newFakeSource(nil)}))
	if _, ok := mfs["phpinit_build_info"]; !ok {
		t.Error("no build_info without a snapshot")
	}
}

func labelValues(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// value is the one series of name whose labels include want; the test
// fails when there is none.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	for _, m := range mfs[name].GetMetric() {
		lv := labelValues(m)
		match := true
		for k, v := range want {
			if lv[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, want)
	return 0
}
