package config

import "testing"

// log.format json turns programs' output to JSON unless they say otherwise.
func TestLogFormatJSONProgramOutput(t *testing.T) {
	c, err := loadOffline(t, `
log: {format: json}
programs:
  a: {command: [a]}
  b: {command: [b], stdout: inherit, stderr: prefix}
`)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Programs["a"]; a.Stdout != "json" || a.Stderr != "json" {
		t.Errorf("a: stdout %q stderr %q, want json json", a.Stdout, a.Stderr)
	}
	if b := c.Programs["b"]; b.Stdout != "inherit" || b.Stderr != "prefix" {
		t.Errorf("b: stdout %q stderr %q, want what it says", b.Stdout, b.Stderr)
	}
}
