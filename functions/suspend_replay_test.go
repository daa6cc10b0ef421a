package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/privops/privops/shared/auth"
)

// TestRetriedSubmissionOfASuspendedTenantReturnsTheFirst submits with an
// Idempotency-Key (portal, and an admin on a subject's behalf), suspends the
// tenant, and retries the same submission, as a client does whose first
// answer was lost: the request was received before the suspension, so the
// retry returns it (200, same id), as it does for an active tenant. It was
// answered 403 tenant-suspended, telling the subject the request was refused
// while it was recorded and its code mailed. A new key is still refused, and
// nothing is written either way.
func TestRetriedSubmissionOfASuspendedTenantReturnsTheFirst(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)
	admin := "Bearer " + ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	const body = `{"type":"access","email":"ada@example.com","country":"DE"}`
	doors := []struct {
		name, path string
		header     map[string]string
	}{
		{"portal", "/api/portal/acme/requests", map[string]string{}},
		{"admin on behalf", "/api/admin/acme/requests", map[string]string{"Authorization": admin}},
	}
	first := map[string]any{}
	for _, d := range doors {
		h := map[string]string{"Idempotency-Key": "retry-me-1"}
		for k, v := range d.header {
			h[k] = v
		}
		r := ta.do(t, call{method: "POST", path: d.path, header: h, body: body})
		if r.status != http.StatusCreated {
			t.Fatalf("%s: first submission %d %v", d.name, r.status, r.body)
		}
		first[d.name] = r.body["id"]
	}
	if r := ta.do(t, call{method: "POST", path: "/api/operator/tenants/acme/suspend", header: bearer(op), body: `{"reason":"contract under review"}`}); r.status != 200 {
		t.Fatalf("suspend: %d %v", r.status, r.body)
	}
	before := ta.operatorState(t)
	for _, d := range doors {
		t.Run(d.name, func(t *testing.T) {
			for _, tc := range []struct {
				key        string
				wantStatus int
				wantCode   string
			}{{"retry-me-1", http.StatusOK, ""}, {"a-new-key", http.StatusForbidden, "tenant-suspended"}} {
				h := map[string]string{"Idempotency-Key": tc.key}
				for k, v := range d.header {
					h[k] = v
				}
				r := ta.do(t, call{method: "POST", path: d.path, header: h, body: body})
				if r.status != tc.wantStatus || r.code != tc.wantCode {
					t.Errorf("key %s: got %d %q, want %d %q (%v)", tc.key, r.status, r.code, tc.wantStatus, tc.wantCode, r.body)
				}
				if tc.wantStatus == http.StatusOK && r.body["id"] != first[d.name] {
					t.Errorf("key %s: id %v, want the first submission's %v", tc.key, r.body["id"], first[d.name])
				}
			}
		})
	}
	if after := ta.operatorState(t); after != before {
		t.Errorf("retries changed state:\n%s→\n%s", before, after)
	}
}
