// Package version holds what `phpinit version` prints; the Makefile sets
// Version and Commit with -ldflags -X.
package version

import "runtime"

var (
	// Version is the release, e.g. v0.1.0; "dev" in a plain go build.
	Version = "dev"
	// Commit is the git commit the binary was built from.
	Commit = "unknown"
)

// GoVersion is the toolchain that built the binary.
func GoVersion() string { return runtime.Version() }
