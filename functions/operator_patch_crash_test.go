package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTenantPatchCrashIsFinishedByTheWatchAlone SIGKILLs the real binary
// between an operator's PATCH of a tenant (written with its audit outbox)
// and the audit appends, restarts it, and makes no further write of that
// tenant: the hourly watch alone (every second here, OUTBOX_LEASE 1s) appends
// the change to both chains, once, and clears the outbox.
func TestTenantPatchCrashIsFinishedByTheWatchAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the real binary; skipped with -short")
	}
	t.Parallel()
	for _, point := range []string{"tenant-written", "tenant-audit-appended"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			env := baseEnv(t.TempDir(), "DEMO_TENANT=false")
			if _, stderr, err := runCLI(t, env, "tenant", "create", "--id", "acme", "--name", "Acme Ltd"); err != nil {
				t.Fatalf("create: %v %s", err, stderr)
			}
			p := start(t, append(slices.Clone(env), "PRIVOPS_CRASHPOINT="+point+"@1", "DEADLINE_WATCH_SCHEDULE=0 0 0 1 1 *"))
			op := operatorDevToken(t, env, "operator-admin")
			out, _, err := runCLI(t, env, "tenant", "get", "--id", "acme")
			if err != nil {
				t.Fatal(err)
			}
			etag := out[strings.Index(out, `"etag": "`)+len(`"etag": "`):]
			etag = etag[:strings.Index(etag, `"`)]
			send("PATCH", p.addr+"/api/operator/tenants/acme", op, `{"defaultDays":45}`,
				map[string]string{"Content-Type": "application/merge-patch+json", "If-Match": `"` + etag + `"`})
			if !p.waitKilled(t, 20*time.Second) {
				t.Fatalf("the suite did not die at %s:\n%s", point, p.out.String())
			}

			p = start(t, env)
			defer p.stop(t)
			admin := devToken(t, env, "acme")
			want := []string{"tenant.created", "tenant.updated"}
			deadline := time.Now().Add(30 * time.Second)
			for {
				opChain := chainActions(t, p.addr+"/api/operator/audit", op)
				own := chainActions(t, p.addr+"/api/admin/acme/audit", admin)
				if cmp.Equal(want, opChain) && cmp.Equal(want, own) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after restart: operator chain %v, tenant chain %v; want %v each", opChain, own, want)
				}
				time.Sleep(200 * time.Millisecond)
			}
			status, body := send("GET", p.addr+"/api/operator/tenants/acme", op, "", nil)
			if status != 200 || body["defaultDays"] != 45.0 || body["pendingAuditEvents"] != 0.0 {
				t.Errorf("tenant after recovery: %d %v", status, body)
			}
		})
	}
}
