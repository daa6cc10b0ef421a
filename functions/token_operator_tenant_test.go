package main

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestTokenForTheOperatorTenantIsRefused asks `privops token` for a tenant
// token naming AUTH_OPERATOR_TENANT's value: such a token is an operator
// token with a tenant role, which allows nothing anywhere (404 on the admin
// API, 403 on the operator API). The command refuses it, saying why, instead
// of printing a token that fails later with no hint.
func TestTokenForTheOperatorTenantIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	// The server's key, as `privops token` never makes one of its own.
	env := baseEnv(t.TempDir(), "DEMO_TENANT=false", "AUTH_OPERATOR_TENANT=ops-team", "AUTH_DEV_KEY="+base64.StdEncoding.EncodeToString(devKey))
	out, stderr, err := runCLI(t, env, "token", "--tenant", "ops-team", "--role", "privacy-admin", "--sub", "x")
	if err == nil || out != "" || !strings.Contains(stderr, "AUTH_OPERATOR_TENANT") {
		t.Errorf("token --tenant ops-team: %v, stdout %q, stderr %q; want exit 1 naming AUTH_OPERATOR_TENANT", err, out, stderr)
	}
	if _, stderr, err := runCLI(t, env, "token", "--tenant", "acme", "--role", "privacy-admin", "--sub", "x"); err != nil {
		t.Errorf("token --tenant acme: %v %s", err, stderr)
	}
}
