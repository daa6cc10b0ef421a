package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestTenantUpdateTakesTheETagAsTheAPIPrintsIt passes `privops tenant update
// --if-match` the tenant's ETag both as the command prints it (bare) and as
// the operator API's ETag header carries it (quoted, as copied from
// `curl -si`): both name the current version, as they do for the API's
// If-Match. The quoted form was answered etag-mismatch, "read it again".
func TestTenantUpdateTakesTheETagAsTheAPIPrintsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	env := baseEnv(t.TempDir(), "DEMO_TENANT=false")
	out, stderr, err := runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd")
	if err != nil {
		t.Fatalf("create: %v %s", err, stderr)
	}
	for i, form := range []func(string) string{func(e string) string { return e }, strconv.Quote} {
		var tn struct {
			ETag        string `json:"etag"`
			DefaultDays int    `json:"defaultDays"`
		}
		if err := json.Unmarshal([]byte(out), &tn); err != nil || tn.ETag == "" {
			t.Fatalf("tenant as printed: %v\n%s", err, out)
		}
		days := strconv.Itoa(40 + i)
		out, stderr, err = runCLI(t, env, "tenant", "update", "--id", "acme", "--patch", `{"defaultDays":`+days+`}`, "--if-match", form(tn.ETag))
		if err != nil {
			t.Fatalf("update with --if-match %s: %v %s", form(tn.ETag), err, stderr)
		}
	}
}

// TestTenantUpdatePatchIsReadAsStrictlyAsTheAPIReadsIt gives `privops tenant
// update --patch` what the operator API refuses: a setting named twice (the
// command took the last), a body with trailing garbage. Each exits 1 with the
// API's code and changes nothing.
func TestTenantUpdatePatchIsReadAsStrictlyAsTheAPIReadsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	env := baseEnv(t.TempDir(), "DEMO_TENANT=false")
	before, stderr, err := runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd")
	if err != nil {
		t.Fatalf("create: %v %s", err, stderr)
	}
	for _, tc := range []struct{ patch, wantCode string }{
		{`{"defaultDays":45,"defaultDays":46}`, "duplicate-key"},
		{`{"defaultDays":45} {"defaultDays":46}`, "malformed-json"},
	} {
		_, stderr, err := runCLI(t, env, "tenant", "update", "--id", "acme", "--patch", tc.patch)
		if err == nil || !strings.Contains(stderr, tc.wantCode) {
			t.Errorf("--patch %s: %v %q, want exit 1 with %s", tc.patch, err, stderr, tc.wantCode)
		}
	}
	after, _, err := runCLI(t, env, "tenant", "get", "--id", "acme")
	if err != nil || after != before {
		t.Errorf("refused patches changed the tenant: %v\n%s\n→\n%s", err, before, after)
	}
}
