package integration

import (
	"strings"
	"testing"
	"time"
)

// TestHookExportOverArgMax: a value no exec accepts is a hook failure at
// start naming the variable, not a 127 at every program start.
func TestHookExportOverArgMax(t *testing.T) {
	_, p := startStack(t, site{Script: "export SMALL=1\nexport HUGE_VALUE=\"$(printf '%0200000d' 0)\"\n"})
	if code := p.wait(30 * time.Second); code != 1 {
		t.Errorf("exit status %d, want 1 (the hook failed)", code)
	}
	out := p.Out.String()
	if !strings.Contains(out, "cannot export HUGE_VALUE") || !strings.Contains(out, "MAX_ARG_STRLEN") {
		t.Errorf("the failure does not name the variable:\n%s", out)
	}
	if strings.Contains(out, `msg=started`) {
		t.Errorf("programs were started:\n%s", out)
	}
}
