//go:build !privops_nootlp

package telemetry

import (
	"os/exec"
	"testing"
)

// TestBuildWithoutOTLP runs this package's tests built with -tags
// privops_nootlp (the binary without the OTLP exporters), so that variant
// keeps compiling and refusing an endpoint.
func TestBuildWithoutOTLP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package a second time; skipped with -short")
	}
	t.Parallel()
	out, err := exec.Command("go", "test", "-count=1", "-tags", "privops_nootlp", "-run", "TestStartRefusesWithoutOTLP", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go test -tags privops_nootlp: %v\n%s", err, out)
	}
}
