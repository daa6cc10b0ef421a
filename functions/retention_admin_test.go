package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/auth"
)

// retentionState is everything a retention-policy call could change: the
// tenant document (policies, services, holds) and the length of its audit chain.
func (ta *testApp) retentionState(tb testing.TB, tenant string) string {
	tb.Helper()
	tn, err := ta.store.GetTenant(context.Background(), tenant)
	if err != nil {
		tb.Fatal(err)
	}
	evs, err := ta.store.ListAudit(context.Background(), tenant, 0, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(struct {
		P, S, H any
		Audit   int
	}{tn.RetentionPolicies, tn.Services, tn.Holds, len(evs)})
	return string(b)
}

// withShop gives acme a service with a built-in container, "shop".
func (ta *testApp) withShop(tb testing.TB, admin string) {
	tb.Helper()
	r := ta.do(tb, call{method: "PUT", path: "/api/admin/acme/services/shop", header: bearer(admin),
		body: `{"name":"Shop","kind":"cosmos","actions":["export","erase"],"categories":["billing"],"identifiers":["email"],"container":"orders","identityPaths":{"email":"/email"}}`})
	if r.status != http.StatusCreated {
		tb.Fatalf("put service: %d %v", r.status, r.body)
	}
}

func TestRetentionPoliciesOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	viewer := ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey)
	ta.withShop(t, admin)
	path := "/api/admin/acme/retention/policies/orders"
	body := `{"category":"payment","scope":"service","service":"shop","maxAgeDays":400,"from":"created","timestampPath":"/createdAt","action":"delete"}`

	r := ta.do(t, call{method: "PUT", path: path, header: bearer(admin), body: body})
	if r.status != http.StatusCreated || r.header.Get("Location") != path {
		t.Fatalf("create: %d %q %v", r.status, r.header.Get("Location"), r.body)
	}
	r = ta.do(t, call{method: "PUT", path: path, header: bearer(admin), body: strings.Replace(body, "400", "500", 1)})
	if r.status != http.StatusOK || r.body["maxAgeDays"] != 500.0 {
		t.Fatalf("replace: %d %v", r.status, r.body)
	}
	r = ta.do(t, call{method: "PUT", path: "/api/admin/acme/retention/policies/closed-requests", header: bearer(admin),
		body: `{"category":"dsr-records","scope":"suite","maxAgeDays":731,"from":"request-closed","action":"delete"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("create suite policy: %d %v", r.status, r.body)
	}

	r = ta.do(t, call{method: "GET", path: path, header: bearer(viewer)})
	if r.status != http.StatusOK || r.body["maxAgeDays"] != 500.0 || r.body["createdAt"] == r.body["updatedAt"] && r.body["createdAt"] == nil {
		t.Fatalf("viewer get: %d %v", r.status, r.body)
	}
	r = ta.do(t, call{method: "GET", path: "/api/admin/acme/retention/policies", header: bearer(viewer)})
	var ids []string
	for _, p := range r.body["policies"].([]any) {
		ids = append(ids, p.(map[string]any)["id"].(string))
	}
	if diff := cmp.Diff([]string{"orders", "closed-requests"}, ids); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	r = ta.do(t, call{method: "GET", path: "/api/admin/acme/retention/floors", header: bearer(viewer)})
	if r.status != http.StatusOK || !strings.Contains(r.text, `"id":"us-ca-ccpa-dsr-log"`) || !strings.Contains(r.text, `"source":"11 CCR §7101(a)-(e)"`) {
		t.Errorf("floors: %d %s", r.status, r.text)
	}

	r = ta.do(t, call{method: "DELETE", path: path, header: bearer(admin)})
	if r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	if r := ta.do(t, call{method: "GET", path: path, header: bearer(admin)}); r.status != http.StatusNotFound || r.code != "unknown-retention-policy" {
		t.Errorf("get after delete: %d %v", r.status, r.body)
	}

	var actions []string
	evs, _ := ta.store.ListAudit(context.Background(), "acme", 0, 1000)
	for _, e := range evs {
		if strings.HasPrefix(e.Action, "retention-policy.") {
			actions = append(actions, e.Action+" "+e.Target+" "+e.Details["maxAgeDays"])
		}
	}
	want := []string{"retention-policy.configured retention-policy/orders 400", "retention-policy.configured retention-policy/orders 500",
		"retention-policy.configured retention-policy/closed-requests 731", "retention-policy.deleted retention-policy/orders "}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	tn, _ := ta.store.GetTenant(context.Background(), "acme")
	if len(tn.PendingAudit) != 0 {
		t.Errorf("audit outbox left with %d events", len(tn.PendingAudit))
	}
}

func TestRetentionPolicyBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	viewer := ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey)
	approver := ta.token(t, "acme", auth.RoleApprover, time.Hour, devKey)
	other := ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey)
	ta.withShop(t, admin)
	if r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/services/crm", header: bearer(admin),
		body: `{"name":"CRM","kind":"webhook","actions":["erase"],"categories":["profile"],"identifiers":["email"],"url":"https://crm.example"}`}); r.status != http.StatusCreated {
		t.Fatalf("put webhook service: %d %v", r.status, r.body)
	}
	if r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/services/erp", header: bearer(admin),
		body: `{"name":"ERP","kind":"servicebus","actions":["erase"],"categories":["profile"],"identifiers":["email"],"queue":"erp-tasks"}`}); r.status != http.StatusCreated {
		t.Fatalf("put service bus service: %d %v", r.status, r.body)
	}
	if r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/services/desk", header: bearer(admin),
		body: `{"name":"Desk","kind":"manual","actions":["erase"],"categories":["profile"],"identifiers":["email"]}`}); r.status != http.StatusCreated {
		t.Fatalf("put manual service: %d %v", r.status, r.body)
	}
	if r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/retention/policies/orders", header: bearer(admin),
		body: `{"category":"payment","scope":"service","service":"shop","maxAgeDays":400,"from":"created","timestampPath":"/createdAt","action":"delete"}`}); r.status != http.StatusCreated {
		t.Fatalf("put policy: %d %v", r.status, r.body)
	}
	path := "/api/admin/acme/retention/policies/policy-1"
	svc := `"scope":"service","service":"shop","from":"created","timestampPath":"/t","action":"delete"`
	for _, tc := range []struct {
		name       string
		c          call
		wantStatus int
		wantCode   string
		wantField  string
		inMessage  string
	}{
		{"viewer puts", call{method: "PUT", path: path, header: bearer(viewer), body: `{"category":"payment",` + svc + `,"maxAgeDays":30}`}, 403, "forbidden-role", "", ""},
		{"approver deletes", call{method: "DELETE", path: "/api/admin/acme/retention/policies/orders", header: bearer(approver)}, 403, "forbidden-role", "", ""},
		{"another tenant's admin", call{method: "PUT", path: path, header: bearer(other), body: `{"category":"payment",` + svc + `,"maxAgeDays":30}`}, 404, "unknown-tenant", "", ""},
		{"another tenant's admin reads", call{method: "GET", path: "/api/admin/acme/retention/policies/orders", header: bearer(other)}, 404, "unknown-tenant", "", ""},
		{"below the CCPA floor", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":"dsr-records","scope":"suite","from":"request-closed","action":"delete","maxAgeDays":365}`},
			422, "below-legal-floor", "maxAgeDays", "us-ca-ccpa-dsr-log"},
		{"below the CSL floor", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":"system-logs",` + svc + `,"maxAgeDays":30}`},
			422, "below-legal-floor", "maxAgeDays", "Cybersecurity Law Art. 21(3)"},
		{"anonymise", call{method: "PUT", path: path, header: bearer(admin), body: strings.Replace(`{"category":"payment",`+svc+`,"maxAgeDays":30}`, `"delete"`, `"anonymise"`, 1)},
			422, "retention-action-not-available", "action", ""},
		{"storage-only at a webhook service", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":"payment","scope":"service","service":"crm","from":"created","action":"storage-only","maxAgeDays":30}`},
			422, "retention-action-not-available", "action", "built-in containers only"},
		{"anonymise export packages", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":"export-packages","scope":"suite","from":"created","action":"anonymise","maxAgeDays":30}`},
			422, "retention-action-not-available", "action", "nothing would be left"},
		{"webhook service with a timestampPath", call{method: "PUT", path: path, header: bearer(admin), body: strings.Replace(`{"category":"payment",`+svc+`,"maxAgeDays":30}`, `"shop"`, `"crm"`, 1)},
			422, "invalid-retention-policy", "timestampPath", ""},
		{"service bus service with a timestampPath", call{method: "PUT", path: path, header: bearer(admin), body: strings.Replace(`{"category":"payment",`+svc+`,"maxAgeDays":30}`, `"shop"`, `"erp"`, 1)},
			422, "invalid-retention-policy", "timestampPath", ""},
		{"manual service", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":"payment","scope":"service","service":"desk","from":"created","action":"delete","maxAgeDays":30}`},
			422, "retention-scope-not-available", "service", "manual"},
		{"unknown service", call{method: "PUT", path: path, header: bearer(admin), body: strings.Replace(`{"category":"payment",`+svc+`,"maxAgeDays":30}`, `"shop"`, `"nope"`, 1)},
			422, "unknown-service", "service", ""},
		{"unknown category", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":"profile",` + svc + `,"maxAgeDays":30}`}, 422, "invalid-retention-policy", "category", ""},
		{"bad id", call{method: "PUT", path: "/api/admin/acme/retention/policies/P_1", header: bearer(admin), body: `{"category":"payment",` + svc + `,"maxAgeDays":30}`}, 422, "invalid-retention-policy", "id", ""},
		{"id mismatch", call{method: "PUT", path: path, header: bearer(admin), body: `{"id":"policy-2","category":"payment",` + svc + `,"maxAgeDays":30}`}, 400, "id-mismatch", "", ""},
		{"createdAt given", call{method: "PUT", path: path, header: bearer(admin), body: `{"createdAt":"2030-01-01T00:00:00Z","category":"payment",` + svc + `,"maxAgeDays":30}`}, 400, "read-only-field", "", ""},
		{"unknown field", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":"payment",` + svc + `,"maxAgeDays":30,"ttl":5}`}, 400, "unknown-field", "", ""},
		{"malformed", call{method: "PUT", path: path, header: bearer(admin), body: `{"category":`}, 400, "malformed-json", "", ""},
		{"delete unknown", call{method: "DELETE", path: path, header: bearer(admin)}, 404, "unknown-retention-policy", "", ""},
		{"delete a swept service", call{method: "DELETE", path: "/api/admin/acme/services/shop", header: bearer(admin)}, 409, "service-in-use", "", ""},
		{"turn a swept service into a webhook", call{method: "PUT", path: "/api/admin/acme/services/shop", header: bearer(admin),
			body: `{"name":"Shop","kind":"webhook","actions":["erase"],"categories":["billing"],"identifiers":["email"],"url":"https://shop.example"}`}, 409, "service-in-use", "", ""},
		{"data-category hold of an unknown category", call{method: "POST", path: "/api/admin/acme/holds", header: bearer(admin), body: `{"scope":"data-category","dataCategory":"profile","category":"legal-obligation","reason":"audit"}`},
			400, "invalid-data-category", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ta.retentionState(t, "acme")
			r := ta.do(t, tc.c)
			if r.status != tc.wantStatus || r.code != tc.wantCode || (r.body["field"] != nil || tc.wantField != "") && r.body["field"] != tc.wantField {
				t.Errorf("got %d %q field %v, want %d %q field %q (%v)", r.status, r.code, r.body["field"], tc.wantStatus, tc.wantCode, tc.wantField, r.body)
			}
			if msg, _ := r.body["detail"].(string); tc.inMessage != "" && !strings.Contains(r.text, tc.inMessage) {
				t.Errorf("answer %q (detail %q) does not name %q", r.text, msg, tc.inMessage)
			}
			if after := ta.retentionState(t, "acme"); after != before {
				t.Errorf("bad input changed state:\n%s→\n%s", before, after)
			}
		})
	}
}

func TestCategoryHoldIsPlacedAndListed(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	r := ta.do(t, call{method: "POST", path: "/api/admin/acme/holds", header: bearer(admin), body: `{"scope":"data-category","dataCategory":"payment","category":"legal-obligation","reason":"tax audit 2030"}`})
	if r.status != http.StatusCreated || r.body["dataCategory"] != "payment" || r.body["scope"] != "data-category" || r.body["category"] != "legal-obligation" {
		t.Fatalf("place: %d %v", r.status, r.body)
	}
	tn, _ := ta.store.GetTenant(context.Background(), "acme")
	if len(tn.Holds) != 1 || !tn.Holds[0].CoversRetention("", "", "payment") || tn.Holds[0].CoversRetention("", "", "support") {
		t.Errorf("stored holds %+v", tn.Holds)
	}
}
