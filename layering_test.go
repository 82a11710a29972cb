// The import rules of phpinit's layout, checked with `go list -deps -json`:
// dependencies point inward, towards the loop and the leaves under it.
package phpinit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/phpinit/phpinit"

// layers of the module's packages: a package imports only packages of a
// lower layer. A new package must be placed here.
var layers = map[string]int{
	// Leaves: no phpinit package below them.
	"internal/proc":        0,
	"internal/schedule":    0,
	"internal/supervisord": 0,
	"internal/sockdiag":    0,
	"internal/sockets":     0,
	"internal/suggest":     0,
	"internal/loadtest":    0,
	"internal/fastcgi":     0,
	"internal/logsink":     0,
	"internal/version":     0,
	// Building blocks on the leaves.
	"config":                   1,
	"internal/fastcgi/fpmtest": 1,
	"internal/probe":           1,
	"internal/watch":           1,
	"internal/tlscert":         1,
	"hooks":                    1,
	"supervisor/reaper":        1,
	// The loop.
	"supervisor": 2,
	// Adapters around it.
	"internal/control": 3,
	"healthcheck":      4,
	// Only these see everything.
	"internal/app": 5,
	"internal/cli": 6,
	"cmd/phpinit":  7,
	// Standalone.
	"bench/cmd/stackbench": 0,
	"integration":          0,
	"e2e":                  0,
	"scripts/testsummary":  0,
}

// notInSupervisor are the adapters and their libraries the loop must never
// depend on, even indirectly.
var notInSupervisor = []string{
	module + "/healthcheck",
	module + "/internal/control",
	module + "/internal/watch",
	module + "/internal/app",
	module + "/internal/cli",
	"github.com/prometheus/",
	"github.com/fsnotify/",
	"github.com/spf13/",
}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := decodePackages(t, out)
	seen := 0
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != module || p.ImportPath == module {
			continue
		}
		seen++
		name := rel(p.ImportPath)
		layer, ok := layers[name]
		if !ok {
			t.Errorf("package %s is not placed in layering_test.go's layers", name)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if l, ok := layers[rel(imp)]; ok && l >= layer {
				t.Errorf("%s (layer %d) imports %s (layer %d): dependencies must point to lower layers", name, layer, rel(imp), l)
			}
		}
		if name == "supervisor" || strings.HasPrefix(name, "supervisor/") {
			for _, d := range p.Deps {
				if slices.ContainsFunc(notInSupervisor, func(bad string) bool { return strings.HasPrefix(d, bad) }) {
					t.Errorf("%s depends on %s: the loop imports no adapter", name, d)
				}
			}
			if slices.Contains(p.Imports, "net/http") {
				t.Errorf("%s imports net/http: HTTP belongs to the adapters", name)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list found only %d packages of %s", seen, module)
	}
}

func decodePackages(t *testing.T, out []byte) []listedPackage {
	t.Helper()
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs
		}
		if err != nil {
			t.Fatalf("cannot decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
}

func rel(importPath string) string { return strings.TrimPrefix(importPath, module+"/") }
