package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/privops/privops/shared/auth"
)

// TestBodiesWithAmbiguousMembersAreRefused sends bodies that encoding/json
// alone would read silently and differently from what the caller meant: a
// member named twice (the last one would win: a proxy or log that reads the
// first sees another tenant id or email), a member that names a field only up
// to case (encoding/json matches names case-insensitively; in a merge patch
// {"DefaultDays":45} sat beside the current defaultDays and was dropped, a
// 200 that changed nothing), and a merge patch setting a member that is not a
// setting to null (answered 200 as if it had done something). Each is a 400
// that changes nothing.
func TestBodiesWithAmbiguousMembersAreRefused(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	etag := ta.do(t, call{method: "GET", path: "/api/operator/tenants/acme", header: bearer(op)}).header.Get("ETag")
	adminPatch := map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "application/merge-patch+json"}
	cases := []struct {
		name     string
		c        call
		wantCode string
	}{
		{"create with the id twice", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"initech","id":"globex","name":"I"}`}, "duplicate-key"},
		{"create with names in another case", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"ID":"initech","NAME":"I"}`}, "unknown-field"},
		{"patch naming a setting twice", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, etag), body: `{"defaultDays":45,"defaultDays":46}`}, "duplicate-key"},
		{"patch naming a setting in another case", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, etag), body: `{"DefaultDays":45}`}, "unknown-field"},
		{"patch setting a non-setting to null", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, etag), body: `{"suspension":null}`}, "unknown-field"},
		{"patch setting status to null", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, etag), body: `{"status":null}`}, "unknown-field"},
		{"admin patch in another case", call{method: "PATCH", path: "/api/admin/acme/settings", header: adminPatch, body: `{"DefaultDays":45}`}, "unknown-field"},
		{"admin patch of a non-setting to null", call{method: "PATCH", path: "/api/admin/acme/settings", header: adminPatch, body: `{"services":null}`}, "unknown-field"},
		{"portal submission with two emails", call{method: "POST", path: "/api/portal/acme/requests",
			body: `{"type":"access","email":"ada@example.com","email":"eve@example.com","country":"DE"}`}, "duplicate-key"},
		{"portal submission in another case", call{method: "POST", path: "/api/portal/acme/requests",
			body: `{"TYPE":"access","Email":"ada@example.com","country":"DE"}`}, "unknown-field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ta.operatorState(t)
			r := ta.do(t, tc.c)
			if r.status != http.StatusBadRequest || r.code != tc.wantCode {
				t.Errorf("got %d %q, want 400 %q (%v)", r.status, r.code, tc.wantCode, r.body)
			}
			if after := ta.operatorState(t); after != before {
				t.Errorf("refused body changed state:\n%s→\n%s", before, after)
			}
		})
	}
}
