package integration

import (
	"os/exec"
	"testing"
)

// runPhpinit runs the binary (not as PID 1) and returns its combined output.
func runPhpinit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(phpinitBin, args...).CombinedOutput()
	return string(out), exitCode(err)
}
