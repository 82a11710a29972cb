package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	stream := strings.Join([]string{
		`{"Action":"start","Package":"p"}`,
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"run","Package":"p","Test":"TestB"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: needs root\n"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestB"}`,
		`{"Action":"run","Package":"p","Test":"TestC"}`,
		`{"Action":"run","Package":"p","Test":"TestC/one"}`,
		`{"Action":"output","Package":"p","Test":"TestC/one","Output":"    c_test.go:3: skipping: needs root\n"}`,
		`{"Action":"skip","Package":"p","Test":"TestC/one"}`,
		`{"Action":"run","Package":"p","Test":"TestC/two"}`,
		`{"Action":"output","Package":"p","Test":"TestC/two","Output":"    c_test.go:4: got 1, want 2\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestC/two"}`,
		`{"Action":"fail","Package":"p","Test":"TestC"}`,
		`{"Action":"run","Package":"p","Test":"TestD"}`,
		`{"Action":"skip","Package":"p","Test":"TestD"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`# p [p.test]`,
	}, "\n")
	var out bytes.Buffer
	s := newSummary(&out)
	s.read(strings.NewReader(stream))
	if want := "    c_test.go:4: got 1, want 2\nFAIL\tp\t0.1s\n# p [p.test]\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if got, want := s.line(), "tests: 1 passed, 3 skipped, 1 failed; skipped: 2 needs root; 1 no reason given"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}
