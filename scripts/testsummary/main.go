// Command testsummary runs `go test -json ...` and prints what `go test`
// would (one line per package, the output of failed tests, build errors),
// then one line counting passed, skipped and failed tests with the reasons
// for the skips. It exits with go test's status.
//
//	go run ./scripts/testsummary go test -json -race ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

type summary struct {
	out                     io.Writer
	passed, failed, skipped int
	// output buffers each running test's lines until its result is known.
	output map[string][]string
	// reasons counts the skips per reason.
	reasons map[string]int
	// hasSub marks tests that have subtests: only leaves are counted.
	hasSub map[string]bool
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testsummary go test -json [flags] [packages]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	s := newSummary(os.Stdout)
	s.read(stdout)
	err = cmd.Wait()
	fmt.Fprintln(os.Stdout, s.line())
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, output: map[string][]string{}, reasons: map[string]int{}, hasSub: map[string]bool{}}
}

func (s *summary) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Action == "" {
			// Not an event (go vet output, a panic before -json): as is.
			fmt.Fprintln(s.out, sc.Text())
			continue
		}
		s.event(e)
	}
}

func (s *summary) event(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.out, e.Output)
	case e.Test == "":
		s.packageEvent(e)
	case e.Action == "run":
		if i := strings.LastIndex(e.Test, "/"); i > 0 {
			s.hasSub[e.Package+" "+e.Test[:i]] = true
		}
	case e.Action == "output":
		s.output[key] = append(s.output[key], e.Output)
	case e.Action == "pass":
		if !s.hasSub[key] {
			s.passed++
		}
		delete(s.output, key)
	case e.Action == "fail":
		if !s.hasSub[key] {
			s.failed++
		}
		for _, l := range s.output[key] {
			fmt.Fprint(s.out, l)
		}
		delete(s.output, key)
	case e.Action == "skip":
		s.skipped++
		s.reasons[skipReason(s.output[key])]++
		delete(s.output, key)
	}
}

// packageEvent prints what go test prints for a package: its result line
// and whatever it wrote outside any test (TestMain, a panic).
func (s *summary) packageEvent(e event) {
	if e.Action != "output" {
		return
	}
	l := e.Output
	if strings.HasPrefix(l, "PASS\n") || strings.HasPrefix(l, "=== ") {
		return
	}
	fmt.Fprint(s.out, l)
}

// location is the "file_test.go:12: " that t.Skip puts before its message.
var location = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// skipReason is the message a test gave t.Skip: the last line before its
// "--- SKIP", without the source location.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		l = strings.TrimSpace(location.ReplaceAllString(lines[i], ""))
		return strings.TrimPrefix(l, "skipping: ")
	}
	return "no reason given"
}

// line is the one-line summary: counts, then the skip reasons, most
// frequent first.
func (s *summary) line() string {
	line := fmt.Sprintf("tests: %d passed, %d skipped, %d failed", s.passed, s.skipped, s.failed)
	if len(s.reasons) == 0 {
		return line
	}
	reasons := make([]string, 0, len(s.reasons))
	for r := range s.reasons {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		a, b := reasons[i], reasons[j]
		if s.reasons[a] != s.reasons[b] {
			return s.reasons[a] > s.reasons[b]
		}
		return a < b
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d %s", s.reasons[r], r)
	}
	return line + "; skipped: " + strings.Join(parts, "; ")
}
