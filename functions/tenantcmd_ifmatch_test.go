package main

import (
	"encoding/json"
	"strconv"
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
