package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAdminIdempotencyKeyOverHTTP (issue 15, item 15): an admin state change
// whose answer was lost in a crash is sent again with the same
// Idempotency-Key and gets the first answer, not 409; the key reused for
// another change is 409 idempotency-key-reused.
func TestAdminIdempotencyKeyOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	tok := ta.token(t, "acme", "privacy-admin", time.Hour, devKey)
	with := func(key string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Idempotency-Key": key}
	}
	sub := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests", header: bearer(tok), body: `{"type":"access","email":"idem@example.com","country":"DE"}`})
	id, _ := sub.body["id"].(string)
	approve := call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: with("approve-1")}
	first, again := ta.do(t, approve), ta.do(t, approve)
	if first.status != http.StatusOK || again.status != http.StatusOK || again.body["id"] != id || again.body["status"] != first.body["status"] {
		t.Errorf("approve twice with one key: %d %v, then %d %v", first.status, first.body["status"], again.status, again.body)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/cancel", header: with("approve-1"), body: `{"reason":"x"}`}); r.status != http.StatusConflict || r.code != "idempotency-key-reused" {
		t.Errorf("the key reused for a cancel: %d %q", r.status, r.code)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: bearer(tok)}); r.status != http.StatusConflict || r.code != "invalid-transition" {
		t.Errorf("approve again without a key: %d %q", r.status, r.code)
	}
	hold := call{method: "POST", path: "/api/admin/acme/holds", header: with("hold-1"), body: `{"scope":"tenant","reason":"audit","category":"legal-obligation"}`}
	h1, h2 := ta.do(t, hold), ta.do(t, hold)
	if h1.status != http.StatusCreated || h2.status != http.StatusCreated || h1.body["id"] != h2.body["id"] {
		t.Errorf("place a hold twice with one key: %d %v, then %d %v", h1.status, h1.body["id"], h2.status, h2.body["id"])
	}
	if holds := ta.do(t, call{method: "GET", path: "/api/admin/acme/holds", header: bearer(tok)}).body["holds"].([]any); len(holds) != 1 {
		t.Errorf("%d holds, want 1", len(holds))
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: with(strings.Repeat("k", 201))}); r.status != http.StatusBadRequest || r.code != "invalid-idempotency-key" {
		t.Errorf("an over-long key: %d %q", r.status, r.code)
	}
}
