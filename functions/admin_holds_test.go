package main

import (
	"net/http"
	"testing"
	"time"
)

// TestHoldsOverHTTP: a hold needs a category (issue 15, item 10); releasing
// it starts again the erasure it deferred (item 2), seen from the admin API.
func TestHoldsOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	tok := bearer(ta.token(t, "acme", "privacy-admin", time.Hour, devKey))
	if r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/services/crm", header: tok,
		body: `{"name":"CRM","kind":"webhook","actions":["erase"],"categories":["profile"],"identifiers":["email"],"url":"https://crm.acme.example/dsr"}`}); r.status != http.StatusCreated {
		t.Fatalf("service: %d %v", r.status, r.body)
	}
	hold := `{"scope":"subject","email":"held@example.com","reason":"internal: litigation 17"`
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/holds", header: tok, body: hold + `}`}); r.status != http.StatusBadRequest || r.code != "invalid-hold-category" {
		t.Errorf("a hold without a category: %d %q", r.status, r.code)
	}
	placed := ta.do(t, call{method: "POST", path: "/api/admin/acme/holds", header: tok, body: hold + `,"category":"legal-claims"}`})
	if placed.status != http.StatusCreated || placed.body["category"] != "legal-claims" {
		t.Fatalf("place: %d %v", placed.status, placed.body)
	}
	sub := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests", header: tok, body: `{"type":"erase","email":"held@example.com","country":"DE"}`})
	id, _ := sub.body["id"].(string)
	r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: tok})
	tasks, _ := r.body["tasks"].([]any)
	if r.status != http.StatusOK || r.body["status"] != "partially-completed" || len(tasks) != 1 {
		t.Fatalf("approve: %d %v", r.status, r.body)
	}
	task := tasks[0].(map[string]any)
	if task["status"] != "held" || task["holdCategory"] != "legal-claims" || task["holdId"] != placed.body["id"] {
		t.Fatalf("task %v", task)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/tasks/" + task["id"].(string) + "/retry", header: tok}); r.status != http.StatusConflict || r.code != "task-held" {
		t.Errorf("retry while held: %d %q", r.status, r.code)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/holds/" + placed.body["id"].(string) + "/release", header: tok}); r.status != http.StatusOK {
		t.Fatalf("release: %d %v", r.status, r.body)
	}
	r = ta.do(t, call{method: "GET", path: "/api/admin/acme/requests/" + id, header: tok})
	task = r.body["tasks"].([]any)[0].(map[string]any)
	if r.body["status"] != "in-progress" || task["status"] != "pending" {
		t.Errorf("after the release: %v, task %v", r.body["status"], task)
	}
	holds := ta.do(t, call{method: "GET", path: "/api/admin/acme/holds", header: tok}).body["holds"].([]any)
	if h := holds[0].(map[string]any); h["releasedAt"] == nil || h["redrivenAt"] == nil {
		t.Errorf("hold after the release: %v", h)
	}
}

// TestEvidenceIsImmutableOverHTTP (issue 15, item 5): completing a manual
// task that already ended is refused and keeps the recorded evidence.
func TestEvidenceIsImmutableOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	tok := bearer(ta.token(t, "acme", "privacy-admin", time.Hour, devKey))
	if r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/services/paper", header: tok,
		body: `{"name":"Paper files","kind":"manual","actions":["erase"],"categories":["profile"],"identifiers":["email"],"instructions":"shred the folder"}`}); r.status != http.StatusCreated {
		t.Fatalf("service: %d %v", r.status, r.body)
	}
	sub := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests", header: tok, body: `{"type":"erase","email":"paper@example.com","country":"DE"}`})
	id, _ := sub.body["id"].(string)
	r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: tok})
	var task string
	for _, x := range r.body["tasks"].([]any) {
		if m := x.(map[string]any); m["action"] == "erase" {
			task, _ = m["id"].(string)
		}
	}
	complete := func(body string) reply {
		return ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/tasks/" + task + "/complete", header: tok, body: body})
	}
	first := complete(`{"outcome":"done","note":"shredded"}`)
	if first.status != http.StatusOK || first.body["status"] != "done" {
		t.Fatalf("complete: %d %v", first.status, first.body)
	}
	// Refused before anything is stored: this app has no blob store, so an
	// evidence write would fail the call with 500.
	if again := complete(`{"outcome":"done","note":"again","evidence":"c2Vjb25k"}`); again.status != http.StatusConflict || again.code != "task-ended" {
		t.Errorf("complete again: %d %q", again.status, again.code)
	}
	got := ta.do(t, call{method: "GET", path: "/api/admin/acme/requests/" + id, header: tok})
	for _, x := range got.body["tasks"].([]any) {
		if m := x.(map[string]any); m["id"] == task && (m["note"] != "shredded" || m["evidence"] != nil) {
			t.Errorf("task now %v", m)
		}
	}
}
