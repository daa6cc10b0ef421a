package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOperatorTenantClaimCannotBeTheDemoTenant starts the suite standalone
// with AUTH_OPERATOR_TENANT=demo and the demo tenant on (the default): every
// token naming demo would be an operator token, so the printed dev admin
// token and the README's first steps would get 404 from a tenant no token can
// reach. The start stops at once, naming the setting. It used to run,
// creating the demo tenant with the reserved id.
func TestOperatorTenantClaimCannotBeTheDemoTenant(t *testing.T) {
	t.Parallel()
	bin := binary(t) // built (once) before the clock starts: a cold build took more than 10s
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "DATA_DIR=" + t.TempDir(),
		"HTTP_ADDR=127.0.0.1:0", "AUTH_OPERATOR_TENANT=demo"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("exit code %d (%v), want 1; stderr:\n%s", code, err, stderr.String())
	}
	first, _, _ := strings.Cut(stderr.String(), "\n")
	if !strings.HasPrefix(first, "privops: ") || !strings.Contains(first, "AUTH_OPERATOR_TENANT") {
		t.Errorf("first line of stderr = %q, want it to name AUTH_OPERATOR_TENANT", first)
	}
}
