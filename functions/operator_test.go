package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/inbound"
	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// operatorToken mints a dev operator token (no tenant claim) with role.
func (ta *testApp) operatorToken(tb testing.TB, role string) string {
	tb.Helper()
	tok, err := auth.Mint(devKey, auth.Claims{Subject: "olga", Operator: true, Roles: []string{role}},
		ta.cfg.AuthIssuer, ta.cfg.AuthAudience, time.Now(), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// operatorState is everything an operator call could change: every tenant's
// version and chain, and the operator's chain.
func (ta *testApp) operatorState(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	ts, err := ta.store.ListTenants(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for _, id := range []string{privacy.OperatorTenant} {
		evs, _ := ta.store.ListAudit(ctx, id, 0, 1000)
		fmt.Fprintf(&b, "%s chain %d\n", id, len(evs))
	}
	for _, t := range ts {
		evs, _ := ta.store.ListAudit(ctx, t.ID, 0, 1000)
		page, _ := ta.store.ListRequests(ctx, t.ID, privacy.RequestFilter{Limit: 200})
		fmt.Fprintf(&b, "%s %s %s chain %d requests %d\n", t.ID, t.ETag, t.Status, len(evs), len(page.Requests))
	}
	return b.String()
}

// ifMatch is a bearer header with If-Match.
func ifMatch(tok, etag string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "If-Match": etag}
}

func mergePatch(tok, etag string) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/merge-patch+json"}
	if etag != "" {
		h["If-Match"] = etag
	}
	return h
}

func TestOperatorOnboardsChangesSuspendsAndResumesOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)

	r := ta.do(t, call{method: "POST", path: "/api/operator/tenants", header: bearer(op),
		body: `{"id":"initech","name":"Initech Ltd","regimes":["eu-gdpr"],"establishment":["eu-gdpr"],"timeZone":"Europe/Dublin","contact":"privacy@initech.example","portalOrigins":["https://privacy.initech.example"]}`})
	if r.status != http.StatusCreated || r.header.Get("Location") != "/api/operator/tenants/initech" || r.header.Get("ETag") == "" {
		t.Fatalf("create: %d %v %v", r.status, r.header, r.body)
	}
	if r.body["status"] != "active" || r.body["piplDays"] != 30.0 || r.body["exportLinkDays"] != 7.0 {
		t.Errorf("created tenant %v: want active with defaults", r.body)
	}
	// Its admins can sign in at once: a tenant token for it works.
	admin := bearer(ta.token(t, "initech", auth.RoleAdmin, time.Hour, devKey))
	if r := ta.do(t, call{method: "GET", path: "/api/admin/initech/settings", header: admin}); r.status != 200 {
		t.Fatalf("tenant admin reads the new tenant's settings: %d %v", r.status, r.body)
	}
	// Secrets never show: give the tenant an inbound key and a webhook service.
	if _, err := ta.svc.CreateInboundKey(context.Background(), "initech", dsr.Actor{Admin: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ta.svc.PutService(context.Background(), "initech", privacy.Service{ID: "crm", Name: "CRM", Kind: privacy.KindWebhook,
		URL: "https://crm.initech.example/dsr", Actions: []privacy.Action{privacy.ActionExport}, Categories: []privacy.Category{privacy.CategoryProfile},
		Identifiers: []string{"email"}}, dsr.Actor{Admin: "alice"}); err != nil {
		t.Fatal(err)
	}
	raw := ta.do(t, call{method: "GET", path: "/api/operator/tenants/initech", header: bearer(ta.operatorToken(t, auth.RoleOperatorViewer))})
	if raw.status != 200 || strings.Contains(raw.text, "secret") || strings.Contains(raw.text, "value") || !strings.Contains(raw.text, `"services":1`) ||
		!strings.Contains(raw.text, `"inboundKeys":1`) {
		t.Errorf("viewer reads the tenant: %d %s", raw.status, raw.text)
	}
	etag := raw.header.Get("ETag")

	r = ta.do(t, call{method: "PATCH", path: "/api/operator/tenants/initech", header: mergePatch(op, etag), body: `{"defaultDays":45,"contact":null}`})
	if r.status != 200 || r.body["defaultDays"] != 45.0 || r.body["contact"] != "" || r.body["timeZone"] != "Europe/Dublin" || r.header.Get("ETag") == etag {
		t.Fatalf("patch: %d %v", r.status, r.body)
	}

	r = ta.do(t, call{method: "POST", path: "/api/operator/tenants/initech/suspend", header: bearer(op), body: `{"reason":"contract under review"}`})
	if r.status != 200 || r.body["status"] != "suspended" {
		t.Fatalf("suspend: %d %v", r.status, r.body)
	}
	before := ta.operatorState(t)
	for _, c := range []call{
		{method: "POST", path: "/api/portal/initech/requests", body: `{"type":"access","email":"ada@example.com","country":"DE"}`},
		{method: "POST", path: "/api/admin/initech/requests", header: admin, body: `{"type":"erase","email":"ada@example.com","country":"DE"}`},
	} {
		if r := ta.do(t, c); r.status != http.StatusForbidden || r.code != "tenant-suspended" {
			t.Errorf("%s %s while suspended: %d %q", c.method, c.path, r.status, r.code)
		}
	}
	if after := ta.operatorState(t); after != before {
		t.Errorf("refused submissions changed state:\n%s→\n%s", before, after)
	}
	if r := ta.do(t, call{method: "GET", path: "/api/admin/initech/requests", header: admin}); r.status != 200 {
		t.Errorf("admin reads while suspended: %d", r.status)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/operator/tenants/initech/resume", header: bearer(op)}); r.status != 200 || r.body["status"] != "active" {
		t.Fatalf("resume: %d %v", r.status, r.body)
	}
	ta.submit(t, "initech", "ada@example.com")

	// The operator's chain holds every step; the tenant's admins see them too.
	a := ta.do(t, call{method: "GET", path: "/api/operator/audit", header: bearer(op)})
	var got []string
	for _, e := range a.body["events"].([]any) {
		got = append(got, e.(map[string]any)["action"].(string)+" "+e.(map[string]any)["actor"].(string))
	}
	want := []string{"tenant.created operator:olga", "tenant.updated operator:olga", "tenant.suspended operator:olga", "tenant.resumed operator:olga"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operator chain (-want +got):\n%s", diff)
	}
	if v := ta.do(t, call{method: "GET", path: "/api/operator/audit/verify", header: bearer(op)}); v.status != 200 || v.body["valid"] != true || v.body["events"] != 4.0 {
		t.Errorf("operator chain verify: %d %v", v.status, v.body)
	}
	own := ta.do(t, call{method: "GET", path: "/api/admin/initech/audit", header: admin})
	seen := map[string]bool{}
	for _, e := range own.body["events"].([]any) {
		ev := e.(map[string]any)
		if strings.HasPrefix(ev["actor"].(string), "operator:") {
			seen[ev["action"].(string)] = true
		}
	}
	if !seen["tenant.created"] || !seen["tenant.updated"] || !seen["tenant.suspended"] || !seen["tenant.resumed"] {
		t.Errorf("the tenant's chain shows the operator's actions %v", seen)
	}

	// Paging.
	l := ta.do(t, call{method: "GET", path: "/api/operator/tenants?limit=2", header: bearer(op)})
	if ts, _ := l.body["tenants"].([]any); l.status != 200 || len(ts) != 2 || l.body["next"] == nil {
		t.Fatalf("page 1: %d %v", l.status, l.body)
	}
	l2 := ta.do(t, call{method: "GET", path: "/api/operator/tenants?limit=2&cursor=" + l.body["next"].(string), header: bearer(op)})
	if ts, _ := l2.body["tenants"].([]any); l2.status != 200 || len(ts) != 2 || l2.body["next"] != nil {
		t.Fatalf("page 2: %d %v", l2.status, l2.body)
	}
}

func TestOperatorBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)
	viewer := ta.operatorToken(t, auth.RoleOperatorViewer)
	officer := ta.operatorToken(t, auth.RoleSecurityOfficer)
	tenantAdmin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	etag := ta.do(t, call{method: "GET", path: "/api/operator/tenants/acme", header: bearer(op)}).header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	cases := []struct {
		name       string
		c          call
		wantStatus int
		wantCode   string
		wantField  string
	}{
		{"no token", call{method: "GET", path: "/api/operator/tenants"}, 401, "missing-token", ""},
		{"forged token", call{method: "GET", path: "/api/operator/tenants", header: bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, make([]byte, 32)))}, 401, "invalid-token", ""},
		{"tenant token lists", call{method: "GET", path: "/api/operator/tenants", header: bearer(tenantAdmin)}, 404, "not-found", ""},
		{"tenant token reads its own tenant", call{method: "GET", path: "/api/operator/tenants/acme", header: bearer(tenantAdmin)}, 404, "not-found", ""},
		{"tenant token creates", call{method: "POST", path: "/api/operator/tenants", header: bearer(tenantAdmin), body: `{"id":"initech","name":"I"}`}, 404, "not-found", ""},
		{"tenant token suspends", call{method: "POST", path: "/api/operator/tenants/acme/suspend", header: bearer(tenantAdmin), body: `{"reason":"x"}`}, 404, "not-found", ""},
		{"tenant token patches", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(tenantAdmin, etag), body: `{"name":"x"}`}, 404, "not-found", ""},
		{"tenant token reads the operator audit", call{method: "GET", path: "/api/operator/audit", header: bearer(tenantAdmin)}, 404, "not-found", ""},
		{"operator token on the admin API", call{method: "GET", path: "/api/admin/acme/settings", header: bearer(op)}, 404, "unknown-tenant", ""},
		{"viewer creates", call{method: "POST", path: "/api/operator/tenants", header: bearer(viewer), body: `{"id":"initech","name":"I"}`}, 403, "forbidden-role", ""},
		{"viewer patches", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(viewer, etag), body: `{"name":"x"}`}, 403, "forbidden-role", ""},
		{"viewer suspends", call{method: "POST", path: "/api/operator/tenants/acme/suspend", header: bearer(viewer), body: `{"reason":"x"}`}, 403, "forbidden-role", ""},
		{"viewer resumes", call{method: "POST", path: "/api/operator/tenants/acme/resume", header: bearer(viewer)}, 403, "forbidden-role", ""},
		{"viewer offboards", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: ifMatch(viewer, etag), body: `{"choice":"delete"}`}, 403, "forbidden-role", ""},
		{"security officer offboards", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: ifMatch(officer, etag), body: `{"choice":"delete"}`}, 403, "forbidden-role", ""},
		{"tenant token offboards", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: ifMatch(tenantAdmin, etag), body: `{"choice":"delete"}`}, 404, "not-found", ""},
		{"viewer cancels an offboarding", call{method: "POST", path: "/api/operator/tenants/acme/offboard/cancel", header: ifMatch(viewer, etag)}, 403, "forbidden-role", ""},
		{"security officer cancels an offboarding", call{method: "POST", path: "/api/operator/tenants/acme/offboard/cancel", header: ifMatch(officer, etag)}, 403, "forbidden-role", ""},
		{"tenant token reads an offboarding", call{method: "GET", path: "/api/operator/tenants/acme/offboarding", header: bearer(tenantAdmin)}, 404, "not-found", ""},
		{"security officer creates", call{method: "POST", path: "/api/operator/tenants", header: bearer(officer), body: `{"id":"initech","name":"I"}`}, 403, "forbidden-role", ""},
		{"duplicate id", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"acme","name":"Acme again"}`}, 409, "tenant-exists", ""},
		{"invalid id", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"ACME_2","name":"A"}`}, 422, "invalid-tenant-id", "id"},
		{"the operator's partition as id", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"_operator","name":"A"}`}, 422, "reserved-tenant-id", "id"},
		{"invalid zone", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"initech","name":"I","timeZone":"Mars/Olympus"}`}, 422, "invalid-tenant", "timeZone"},
		{"invalid regime", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"initech","name":"I","regimes":["gdpr"]}`}, 422, "invalid-tenant", "regimes"},
		{"no name", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"initech"}`}, 422, "invalid-tenant", "name"},
		{"unknown field", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"initech","name":"I","plan":"gold"}`}, 400, "unknown-field", ""},
		{"status is not a setting", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":"initech","name":"I","status":"suspended"}`}, 400, "unknown-field", ""},
		{"malformed", call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: `{"id":`}, 400, "malformed-json", ""},
		{"stale If-Match", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, `"stale"`), body: `{"name":"x"}`}, 412, "etag-mismatch", ""},
		{"missing If-Match", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, ""), body: `{"name":"x"}`}, 428, "if-match-required", ""},
		{"patch of an unknown field", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, etag), body: `{"plan":"gold"}`}, 400, "unknown-field", ""},
		{"patch to a bad zone", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, etag), body: `{"timeZone":"Nowhere/Land"}`}, 422, "invalid-tenant", "timeZone"},
		{"patch removing the name", call{method: "PATCH", path: "/api/operator/tenants/acme", header: mergePatch(op, etag), body: `{"name":null}`}, 422, "invalid-tenant", "name"},
		{"patch as plain JSON", call{method: "PATCH", path: "/api/operator/tenants/acme", header: map[string]string{"Authorization": "Bearer " + op, "If-Match": etag}, body: `{"name":"x"}`}, 415, "unsupported-media-type", ""},
		{"patch of an unknown tenant", call{method: "PATCH", path: "/api/operator/tenants/initech", header: mergePatch(op, etag), body: `{"name":"x"}`}, 404, "unknown-tenant", ""},
		{"suspend without a reason", call{method: "POST", path: "/api/operator/tenants/acme/suspend", header: bearer(op), body: `{}`}, 422, "reason-required", "reason"},
		{"resume an active tenant", call{method: "POST", path: "/api/operator/tenants/acme/resume", header: bearer(op)}, 409, "tenant-not-suspended", ""},
		{"offboard without If-Match", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: bearer(op), body: `{"choice":"delete"}`}, 428, "if-match-required", ""},
		{"offboard with a stale If-Match", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: ifMatch(op, `"stale"`), body: `{"choice":"delete"}`}, 412, "etag-mismatch", ""},
		{"offboard with a bad choice", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: ifMatch(op, etag), body: `{"choice":"archive"}`}, 422, "invalid-offboard-choice", "choice"},
		{"offboard without a choice", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: ifMatch(op, etag), body: `{}`}, 422, "invalid-offboard-choice", "choice"},
		{"offboard with an unknown field", call{method: "POST", path: "/api/operator/tenants/acme/offboard", header: ifMatch(op, etag), body: `{"choice":"delete","noticeDays":1}`}, 400, "unknown-field", ""},
		{"offboard an unknown tenant", call{method: "POST", path: "/api/operator/tenants/initech/offboard", header: ifMatch(op, etag), body: `{"choice":"delete"}`}, 404, "unknown-tenant", ""},
		{"cancel without If-Match", call{method: "POST", path: "/api/operator/tenants/acme/offboard/cancel", header: bearer(op)}, 428, "if-match-required", ""},
		{"cancel an active tenant's offboarding", call{method: "POST", path: "/api/operator/tenants/acme/offboard/cancel", header: ifMatch(op, etag)}, 409, "tenant-not-offboarding", ""},
		{"offboarding of an active tenant", call{method: "GET", path: "/api/operator/tenants/acme/offboarding", header: bearer(viewer)}, 404, "no-offboarding", ""},
		{"offboarding of an unknown tenant", call{method: "GET", path: "/api/operator/tenants/initech/offboarding", header: bearer(viewer)}, 404, "unknown-tenant", ""},
		{"package with a forged link", call{method: "GET", path: "/api/operator/tenants/acme/offboarding/package?expires=1&sig=forged"}, 404, "unknown-package", ""},
		{"bad limit", call{method: "GET", path: "/api/operator/tenants?limit=500", header: bearer(op)}, 400, "invalid-limit", ""},
		{"bad cursor", call{method: "GET", path: "/api/operator/tenants?cursor=..%2F", header: bearer(op)}, 400, "invalid-cursor", ""},
		{"unknown operator endpoint", call{method: "GET", path: "/api/operator/nothing", header: bearer(op)}, 404, "not-found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ta.operatorState(t)
			r := ta.do(t, tc.c)
			if r.status != tc.wantStatus || r.code != tc.wantCode || (r.body["field"] != nil || tc.wantField != "") && r.body["field"] != tc.wantField {
				t.Errorf("got %d %q field %v, want %d %q field %q (%v)", r.status, r.code, r.body["field"], tc.wantStatus, tc.wantCode, tc.wantField, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			if after := ta.operatorState(t); after != before {
				t.Errorf("bad input changed state:\n%s→\n%s", before, after)
			}
		})
	}
}

func TestAdminSettingsMergePatch(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	get := ta.do(t, call{method: "GET", path: "/api/admin/acme/settings", header: bearer(admin)})
	etag := get.header.Get("ETag")

	r := ta.do(t, call{method: "PATCH", path: "/api/admin/acme/settings", header: mergePatch(admin, etag), body: `{"piplDays":45,"exportLinkDays":14}`})
	if r.status != 200 || r.body["piplDays"] != 45.0 || r.body["exportLinkDays"] != 14.0 || r.body["timeZone"] != "Europe/Berlin" || r.body["name"] != "Acme" {
		t.Fatalf("patch: %d %v", r.status, r.body)
	}
	// null is the default, for every field that has one.
	r = ta.do(t, call{method: "PATCH", path: "/api/admin/acme/settings", header: mergePatch(admin, ""),
		body: `{"piplDays":null,"exportLinkDays":null,"timeZone":null,"erasureGraceDays":null,"defaultDays":null}`})
	if r.status != 200 || r.body["piplDays"] != 30.0 || r.body["exportLinkDays"] != 7.0 || r.body["timeZone"] != "UTC" || r.body["erasureGraceDays"] != 30.0 || r.body["defaultDays"] != 30.0 {
		t.Fatalf("patch to defaults: %d %v", r.status, r.body)
	}
	// A PUT leaving fields out means the same defaults.
	r = ta.do(t, call{method: "PUT", path: "/api/admin/acme/settings", header: bearer(admin), body: `{"name":"Acme","erasureGraceDays":0}`})
	if r.status != 200 || r.body["piplDays"] != 30.0 || r.body["exportLinkDays"] != 7.0 || r.body["erasureGraceDays"] != 0.0 {
		t.Fatalf("put with defaults: %d %v", r.status, r.body)
	}
	before := ta.snapshot(t)
	state := ta.operatorState(t)
	for _, tc := range []struct {
		name       string
		c          call
		wantStatus int
		wantCode   string
	}{
		{"stale If-Match", call{method: "PATCH", path: "/api/admin/acme/settings", header: mergePatch(admin, etag), body: `{"piplDays":40}`}, 412, "etag-mismatch"},
		{"stale If-Match on PUT", call{method: "PUT", path: "/api/admin/acme/settings", header: map[string]string{"Authorization": "Bearer " + admin, "If-Match": etag}, body: `{"name":"A"}`}, 412, "etag-mismatch"},
		{"unknown field", call{method: "PATCH", path: "/api/admin/acme/settings", header: mergePatch(admin, ""), body: `{"status":"active"}`}, 400, "unknown-field"},
		{"plain JSON", call{method: "PATCH", path: "/api/admin/acme/settings", header: bearer(admin), body: `{"piplDays":40}`}, 415, "unsupported-media-type"},
		{"viewer", call{method: "PATCH", path: "/api/admin/acme/settings", header: mergePatch(ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey), ""), body: `{"piplDays":40}`}, 403, "forbidden-role"},
		{"out of range", call{method: "PATCH", path: "/api/admin/acme/settings", header: mergePatch(admin, ""), body: `{"piplDays":400}`}, 422, "invalid-tenant"},
	} {
		if r := ta.do(t, tc.c); r.status != tc.wantStatus || r.code != tc.wantCode {
			t.Errorf("%s: %d %q, want %d %q", tc.name, r.status, r.code, tc.wantStatus, tc.wantCode)
		}
	}
	if after := ta.snapshot(t); after != before {
		t.Errorf("bad settings changed state: %v → %v", before, after)
	}
	if after := ta.operatorState(t); after != state {
		t.Errorf("bad settings changed the tenant:\n%s→\n%s", state, after)
	}
}

// A suspended tenant's systems are refused over the inbound queue too: the
// message is rejected with the code and acknowledged, never retried.
func TestSuspendedTenantRejectsInboundRequests(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ctx := context.Background()
	k, err := ta.svc.CreateInboundKey(ctx, "acme", dsr.Actor{Admin: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.svc.SuspendTenant(ctx, "acme", "security review", dsr.Actor{Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	secret, _ := base64.StdEncoding.DecodeString(k.Value)
	ev, err := sender.NewDSRRequested("acme", "//hr.acme.example", sender.DSRRequested{Type: sender.RequestErase,
		Subject: sender.Subject{Email: "leaver@acme.example", Country: "DE"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m, err := ev.Message(sender.Key{ID: k.ID, Secret: secret}, now)
	if err != nil {
		t.Fatal(err)
	}
	before := ta.snapshot(t)
	out, err := ta.inbound.Handle(ctx, inbound.Delivery{MessageID: m.MessageID, Body: m.Body, ContentType: m.ContentType, Properties: m.Properties, At: now})
	if err != nil || out.Status != inbound.Rejected || out.Code != "tenant-suspended" {
		t.Fatalf("inbound request to a suspended tenant: %+v, %v (want rejected, not a transient error)", out, err)
	}
	if after := ta.snapshot(t); after[0]/1000 != before[0]/1000 {
		t.Errorf("a request was opened: %v → %v", before, after)
	}
}

// TestOperatorCreateRetriedWithItsKey: an onboarding sent again with its
// Idempotency-Key after a lost answer gets 201 and the tenant, as the first
// call did; without the key it is 409 tenant-exists.
func TestOperatorCreateRetriedWithItsKey(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	op := ta.operatorToken(t, auth.RoleOperatorAdmin)
	h := bearer(op)
	h["Idempotency-Key"] = "onboard-initech"
	body := `{"id":"initech","name":"Initech Ltd"}`
	first := ta.do(t, call{method: "POST", path: "/api/operator/tenants", header: h, body: body})
	again := ta.do(t, call{method: "POST", path: "/api/operator/tenants", header: h, body: body})
	if first.status != http.StatusCreated || again.status != http.StatusCreated || again.header.Get("ETag") != first.header.Get("ETag") ||
		again.header.Get("Location") != "/api/operator/tenants/initech" {
		t.Fatalf("create %d %v, again %d %v: want 201 twice with the same ETag", first.status, first.header, again.status, again.header)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/operator/tenants", header: bearer(op), body: body}); r.status != http.StatusConflict || r.body["code"] != "tenant-exists" {
		t.Errorf("without the key: %d %v, want 409 tenant-exists", r.status, r.body)
	}
}
