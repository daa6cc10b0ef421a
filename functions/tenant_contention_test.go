package main

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentTenantWritesNeverAnswer500 has an operator suspend and
// resume a tenant while its admins change its settings, all at once, against
// the real binary on the embedded store, as a busy tenant sees during an
// incident. Every call is answered 200, or 409 for a suspension or resumption
// that lost to another: never 500. Five attempts without a pause let a few
// dozen writers exhaust them (500, "update tenant acme: conflict") and left
// the audit outbox to the hourly watch. Afterwards the tenant's outbox is
// empty and both chains verify.
func TestConcurrentTenantWritesNeverAnswer500(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	env := baseEnv(t.TempDir(), "DEMO_TENANT=false", "DEADLINE_WATCH_SCHEDULE=0 0 0 1 1 *")
	if _, stderr, err := runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd"); err != nil {
		t.Fatalf("create: %v %s", err, stderr)
	}
	p := start(t, env)
	defer p.stop(t)
	op := operatorDevToken(t, env, "operator-admin")
	admin := devToken(t, env, "acme")
	patch := map[string]string{"Content-Type": "application/merge-patch+json"}
	const n = 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	count := func(what string, status int, body map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		got[fmt.Sprintf("%s %d", what, status)]++
		if status >= 500 || status == 0 {
			t.Errorf("%s: %d %v", what, status, body)
		}
	}
	for i := range n {
		wg.Go(func() {
			s, b := send("PATCH", p.addr+"/api/admin/acme/settings", admin, fmt.Sprintf(`{"defaultDays":%d}`, 30+i), patch)
			count("settings", s, b)
		})
		wg.Go(func() {
			s, b := send("POST", p.addr+"/api/operator/tenants/acme/suspend", op, `{"reason":"incident"}`, nil)
			count("suspend", s, b)
		})
		wg.Go(func() {
			s, b := send("POST", p.addr+"/api/operator/tenants/acme/resume", op, "", nil)
			count("resume", s, b)
		})
	}
	wg.Wait()
	if got["settings 200"] != n {
		t.Errorf("answers %v: want every settings change 200", got)
	}
	if s, b := send("GET", p.addr+"/api/operator/tenants/acme", op, "", nil); s != 200 || b["pendingAuditEvents"] != 0.0 {
		t.Errorf("tenant afterwards: %d %v", s, b)
	}
	for _, c := range []struct{ path, tok string }{{"/api/operator/audit/verify", op}, {"/api/admin/acme/audit/verify", admin}} {
		if s, b := send("GET", p.addr+c.path, c.tok, "", nil); s != 200 || b["valid"] != true {
			t.Errorf("%s: %d %v", c.path, s, b)
		}
	}
}
