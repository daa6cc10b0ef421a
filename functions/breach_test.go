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
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// breachContacts gives acme and globex security contacts on the "db" service.
func (ta *testApp) breachContacts(tb testing.TB) {
	tb.Helper()
	for _, id := range []string{"acme", "globex"} {
		lang := "en"
		if id == "globex" {
			lang = "zh-CN"
		}
		admin := bearer(ta.token(tb, id, auth.RoleAdmin, time.Hour, devKey))
		h := map[string]string{"Authorization": admin["Authorization"], "Content-Type": "application/merge-patch+json"}
		body := fmt.Sprintf(`{"breach":{"contacts":[{"email":"sec@%s.example","role":"primary","language":"%s"},
			{"email":"ciso@%s.example","role":"secondary","language":"%s"}],"services":["db"],"regions":["westeurope"]}}`, id, lang, id, lang)
		if r := ta.do(tb, call{method: "PATCH", path: "/api/admin/" + id + "/settings", header: h, body: body}); r.status != 200 {
			tb.Fatalf("settings of %s: %d %v", id, r.status, r.body)
		}
	}
}

const incidentBody = `{"detectedAt":"%s","awareAt":"%s","jurisdictions":["eu-gdpr","us-tx"],"residents":{"us-tx":300},
	"title":"Backup bucket exposed","nature":"a bucket was readable without authentication","categories":["contact details"],
	"subjectGroups":["customers"],"subjectsApprox":1200,"recordsApprox":5000,"consequences":"phishing","measures":"access revoked",
	"contact":"dpo@operator.example","risk":"high"%s}`

func incidentJSON(extra string) string {
	aware := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	return fmt.Sprintf(incidentBody, aware, aware, extra)
}

// breachState is everything a breach call could change.
func (ta *testApp) breachState(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	var b strings.Builder
	page, err := ta.breach.Incidents(ctx, "", 200)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(&b, "incidents %d\n", len(page.Incidents))
	for _, id := range []string{privacy.OperatorTenant, "acme", "globex", "demo"} {
		evs, _ := ta.store.ListAudit(ctx, id, 0, 1000)
		ns, _ := ta.breach.Notices(ctx, id, "", 200)
		fmt.Fprintf(&b, "%s chain %d notices %d", id, len(evs), len(ns.Notices))
		for _, n := range ns.Notices {
			fmt.Fprintf(&b, " %s/%s", n.ID, n.ETag)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "mails %d\n", ta.mail.count())
	return b.String()
}

func TestIncidentOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ta.breachContacts(t)
	officer := bearer(ta.operatorToken(t, auth.RoleSecurityOfficer))

	r := ta.do(t, call{method: "POST", path: "/api/operator/incidents/resolve", header: officer, body: `{"services":["db"]}`})
	if diff := cmp.Diff([]any{"acme", "globex"}, r.body["tenants"]); r.status != 200 || diff != "" {
		t.Fatalf("resolve: %d %s", r.status, diff)
	}
	r = ta.do(t, call{method: "POST", path: "/api/operator/incidents", header: officer, body: incidentJSON(`,"scope":{"services":["db"]}`)})
	if r.status != http.StatusCreated || r.header.Get("Location") == "" {
		t.Fatalf("declare: %d %v", r.status, r.body)
	}
	id := r.body["id"].(string)
	if diff := cmp.Diff([]any{"acme", "globex"}, r.body["tenants"]); diff != "" {
		t.Errorf("tenants (-want +got):\n%s", diff)
	}
	// One notice mail per tenant, to its primary contact, in its language.
	var to []string
	for _, m := range ta.mail.sent {
		to = append(to, m.To)
		if m.To == "sec@globex.example" && !strings.Contains(m.Subject, "安全事件") {
			t.Errorf("globex's notice is not in Simplified Chinese: %q", m.Subject)
		}
	}
	if diff := cmp.Diff([]string{"sec@acme.example", "sec@globex.example"}, to); diff != "" {
		t.Errorf("mails (-want +got):\n%s", diff)
	}

	clocks := ta.do(t, call{method: "GET", path: "/api/operator/incidents/" + id + "/clocks", header: officer})
	if tenants, _ := clocks.body["tenants"].([]any); clocks.status != 200 || len(tenants) != 2 {
		t.Fatalf("clocks: %d %v", clocks.status, clocks.body)
	}

	acme := bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey))
	n := ta.do(t, call{method: "GET", path: "/api/admin/acme/incidents/" + id, header: acme})
	if n.status != 200 || n.body["notifiedAt"] == nil {
		t.Fatalf("acme's notice: %d %v", n.status, n.body)
	}
	if strings.Contains(n.text, "globex") {
		t.Error("acme's notice names another affected tenant")
	}
	var ids []string
	for _, c := range n.body["clocks"].([]any) {
		ids = append(ids, c.(map[string]any)["id"].(string))
	}
	for _, want := range []string{"processor-sla", "eu-gdpr-authority", "us-tx-ag", "us-tx-residents"} {
		if !strings.Contains(strings.Join(ids, ","), want) {
			t.Errorf("acme's clocks %v lack %s", ids, want)
		}
	}
	// Acknowledge (approver), report (viewer), approve subject notice.
	approver := bearer(ta.token(t, "acme", auth.RoleApprover, time.Hour, devKey))
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/incidents/" + id + "/acknowledge", header: approver}); r.status != 200 || r.body["acknowledgedAt"] == nil {
		t.Errorf("acknowledge: %d %v", r.status, r.body)
	}
	viewer := bearer(ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey))
	if r := ta.do(t, call{method: "GET", path: "/api/admin/acme/incidents/" + id + "/report", header: viewer}); r.status != 200 || r.body["nature"] == nil {
		t.Errorf("report: %d %v", r.status, r.body)
	}
	if r := ta.do(t, call{method: "GET", path: "/api/admin/acme/incidents/" + id + "/report?format=text", header: viewer}); r.status != 200 ||
		!strings.Contains(r.text, "(a) nature of the breach") || !strings.Contains(r.text, "Reasons for delay") {
		t.Errorf("text report: %d %s", r.status, r.text)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/incidents/" + id + "/approve-subject-notice", header: approver}); r.status != 200 || r.body["subjectApproved"] != true {
		t.Errorf("approve subject notice: %d %v", r.status, r.body)
	}
	sn, err := ta.breach.SubjectNotice(t.Context(), "acme", id)
	if err != nil || !sn.Approved || sn.Text["en"] == "" || sn.Text["zh-CN"] == "" {
		t.Errorf("SubjectNotice: %+v %v", sn, err)
	}
	// A phased report reaches both tenants as version 2.
	report := `{"summary":"more records found","title":"Backup bucket exposed","nature":"n","categories":["contact details"],
		"subjectsApprox":2000,"recordsApprox":9000,"consequences":"phishing","measures":"access revoked","contact":"dpo@operator.example","risk":"high"}`
	if r := ta.do(t, call{method: "POST", path: "/api/operator/incidents/" + id + "/reports", header: officer, body: report}); r.status != 200 || r.body["version"] != 2.0 {
		t.Fatalf("report: %d %v", r.status, r.body)
	}
	if g := ta.do(t, call{method: "GET", path: "/api/admin/globex/incidents/" + id, header: bearer(ta.token(t, "globex", auth.RoleViewer, time.Hour, devKey))}); g.body["version"] != 2.0 {
		t.Errorf("globex's notice version %v, want 2", g.body["version"])
	}
}

// TestIncidentRolesAndIsolation: only the security officer changes
// incidents; a tenant token never reaches the operator routes; tenant B sees
// nothing of tenant A's notice, and a tenant unaffected nothing at all.
func TestIncidentRolesAndIsolation(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ta.breachContacts(t)
	officer := bearer(ta.operatorToken(t, auth.RoleSecurityOfficer))
	r := ta.do(t, call{method: "POST", path: "/api/operator/incidents", header: officer, body: incidentJSON(`,"tenants":["acme"]`)})
	if r.status != 201 {
		t.Fatalf("declare: %d %v", r.status, r.body)
	}
	id := r.body["id"].(string)
	before := ta.breachState(t)
	tests := []struct {
		name, method, path, body, code string
		header                         map[string]string
		status                         int
	}{
		{"operator admin cannot declare", "POST", "/api/operator/incidents", incidentJSON(`,"tenants":["acme"]`), "forbidden-role",
			bearer(ta.operatorToken(t, auth.RoleOperatorAdmin)), 403},
		{"operator viewer cannot add a report", "POST", "/api/operator/incidents/" + id + "/reports", `{}`, "forbidden-role",
			bearer(ta.operatorToken(t, auth.RoleOperatorViewer)), 403},
		{"tenant token meets no operator API", "GET", "/api/operator/incidents/" + id, "", "not-found",
			bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)), 404},
		{"no token", "GET", "/api/operator/incidents", "", "missing-token", nil, 401},
		{"globex cannot read acme's notice", "GET", "/api/admin/globex/incidents/" + id, "", "unknown-incident",
			bearer(ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey)), 404},
		{"globex cannot acknowledge it", "POST", "/api/admin/globex/incidents/" + id + "/acknowledge", "", "unknown-incident",
			bearer(ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey)), 404},
		{"globex's token on acme's route", "GET", "/api/admin/acme/incidents/" + id, "", "unknown-tenant",
			bearer(ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey)), 404},
		{"viewer cannot acknowledge", "POST", "/api/admin/acme/incidents/" + id + "/acknowledge", "", "forbidden-role",
			bearer(ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey)), 403},
		{"viewer cannot approve subject notice", "POST", "/api/admin/acme/incidents/" + id + "/approve-subject-notice", "", "forbidden-role",
			bearer(ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey)), 403},
		{"bad declaration: no jurisdictions", "POST", "/api/operator/incidents",
			strings.Replace(incidentJSON(`,"tenants":["acme"]`), `"jurisdictions":["eu-gdpr","us-tx"]`, `"jurisdictions":[]`, 1), "invalid-incident", officer, 422},
		{"bad declaration: unknown field", "POST", "/api/operator/incidents", incidentJSON(`,"tenants":["acme"],"severity":9`), "unknown-field", officer, 400},
		{"bad declaration: unknown tenant", "POST", "/api/operator/incidents", incidentJSON(`,"tenants":["nobody"]`), "unknown-tenant", officer, 422},
		{"bad declaration: aware in the future", "POST", "/api/operator/incidents",
			fmt.Sprintf(incidentBody, "2030-01-01T00:00:00Z", "2099-01-01T00:00:00Z", `,"tenants":["acme"]`), "invalid-incident", officer, 422},
		{"bad report: empty summary", "POST", "/api/operator/incidents/" + id + "/reports", `{"summary":""}`, "invalid-incident", officer, 422},
		{"unknown incident", "GET", "/api/operator/incidents/inc_nope", "", "unknown-incident", officer, 404},
		{"bad limit", "GET", "/api/operator/incidents?limit=0", "", "invalid-limit", officer, 400},
		{"bad cursor", "GET", "/api/admin/acme/incidents?cursor=zzz", "", "invalid-cursor",
			bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)), 400},
		{"unknown version", "POST", "/api/admin/acme/incidents/" + id + "/acknowledge", `{"version":7}`, "unknown-version",
			bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)), 422},
		{"approve with a body", "POST", "/api/admin/acme/incidents/" + id + "/approve-subject-notice", `{"x":1}`, "unexpected-body",
			bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)), 400},
		{"bad report format", "GET", "/api/admin/acme/incidents/" + id + "/report?format=pdf", "", "invalid-format",
			bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)), 400},
		{"unknown clock", "POST", "/api/admin/acme/incidents/" + id + "/clocks/nope/met", "", "unknown-clock",
			bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)), 404},
		{"forged ack link", "POST", "/api/breach/ack/acme/" + id + "?v=1&sig=00", "", "bad-ack-link", nil, 403},
		{"ack link without version", "GET", "/api/breach/ack/acme/" + id + "?sig=00", "", "bad-ack-link", nil, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ta.do(t, call{method: tc.method, path: tc.path, body: tc.body, header: tc.header})
			if r.status != tc.status || r.code != tc.code {
				t.Errorf("%s %s: %d %s, want %d %s (%v)", tc.method, tc.path, r.status, r.code, tc.status, tc.code, r.body)
			}
			if after := ta.breachState(t); after != before {
				t.Errorf("state changed:\n%s\n→\n%s", before, after)
			}
		})
	}
	// The acknowledgement link from acme's mail works once, and only for acme.
	var link string
	for _, m := range ta.mail.sent {
		if i := strings.Index(m.Text, "/api/breach/ack/"); i >= 0 {
			link = strings.Fields(m.Text[i:])[0]
		}
	}
	if r := ta.do(t, call{method: "GET", path: link}); r.status != 200 || !strings.Contains(r.text, "<form") {
		t.Fatalf("GET the link: %d %s", r.status, r.text)
	}
	if ta.breachState(t) != before {
		t.Error("GET on the link changed something")
	}
	if r := ta.do(t, call{method: "POST", path: link}); r.status != 200 {
		t.Fatalf("POST the link: %d %s", r.status, r.text)
	}
	n, _ := ta.breach.Notice(t.Context(), "acme", id)
	if n.AcknowledgedBy != "link" {
		t.Errorf("acknowledged by %q", n.AcknowledgedBy)
	}
}

// TestDuplicateBreachReportIsOneIncident: a sub-processor's signed report
// delivered twice (a redelivery, or a resend with the same id) is one
// incident and one notice; the second delivery is a duplicate.
func TestDuplicateBreachReportIsOneIncident(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ta.breachContacts(t)
	ctx := context.Background()
	k, err := ta.svc.CreateInboundKey(ctx, "acme", dsr.Actor{Admin: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := base64.StdEncoding.DecodeString(k.Value)
	now := time.Now().UTC()
	ev, err := sender.NewBreachReported("acme", "//backup.sub.example/incidents", sender.BreachReported{
		DetectedAt: now.Add(-2 * time.Hour).Format(time.RFC3339), AwareAt: now.Add(-time.Hour).Format(time.RFC3339),
		Jurisdictions: []string{"eu-gdpr"}, Title: "t", Nature: "n", Categories: []string{"contact details"}, SubjectsApprox: 10,
		RecordsApprox: 10, Consequences: "c", Measures: "m", Contact: "sec@sub.example", Risk: "low"})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []inbound.Status
	for i := range 2 {
		m, err := ev.Message(sender.Key{ID: k.ID, Secret: secret}, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		out, err := ta.inbound.Handle(ctx, inbound.Delivery{MessageID: m.MessageID, Body: m.Body, ContentType: m.ContentType, Properties: m.Properties, At: now})
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, out.Status)
	}
	if diff := cmp.Diff([]inbound.Status{inbound.Accepted, inbound.Duplicate}, statuses); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	page, _ := ta.breach.Incidents(ctx, "", 10)
	if len(page.Incidents) != 1 || page.Incidents[0].ReportTenant != "acme" || len(page.Incidents[0].Tenants) != 1 {
		t.Fatalf("incidents: %d %+v", len(page.Incidents), page.Incidents)
	}
	// Even past the inbound ledger (a crash after the incident, before the
	// record), the incident id is derived from the report: still one.
	if _, created, err := ta.breach.Declare(ctx, breachDeclOf(t, page.Incidents[0]), originOf(page.Incidents[0])); err != nil || created {
		t.Errorf("declare again: created %v, %v", created, err)
	}
	if ta.mail.count() != 1 {
		t.Errorf("%d mails, want 1", ta.mail.count())
	}
}

func breachDeclOf(tb testing.TB, in *breach.Incident) breach.Declaration {
	tb.Helper()
	return breach.Declaration{DetectedAt: in.DetectedAt, AwareAt: in.AwareAt, Jurisdictions: in.Jurisdictions, Facts: in.Facts, Tenants: in.Tenants}
}

func originOf(in *breach.Incident) breach.Origin {
	return breach.Origin{Actor: in.ReportedBy, Source: in.Source, EventID: in.EventID, ReportTenant: in.ReportTenant}
}

// TestDeclareWithIdempotencyKey: a declaration sent again with the same
// Idempotency-Key (its answer lost) gets the first incident and mails
// nobody twice; the key reused for another declaration is 409 and changes
// nothing.
func TestDeclareWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	ta.breachContacts(t)
	officer := ta.operatorToken(t, auth.RoleSecurityOfficer)
	h := map[string]string{"Authorization": "Bearer " + officer, "Idempotency-Key": "decl-1"}
	body := incidentJSON(`,"tenants":["acme"]`)
	first := ta.do(t, call{method: "POST", path: "/api/operator/incidents", header: h, body: body})
	again := ta.do(t, call{method: "POST", path: "/api/operator/incidents", header: h, body: body})
	if first.status != 201 || again.status != 201 || first.body["id"] != again.body["id"] {
		t.Fatalf("first %d %v, again %d %v", first.status, first.body["id"], again.status, again.body["id"])
	}
	before := ta.breachState(t)
	other := ta.do(t, call{method: "POST", path: "/api/operator/incidents", header: h, body: incidentJSON(`,"tenants":["globex"]`)})
	if other.status != 409 || other.code != "idempotency-key-reused" {
		t.Errorf("key reused: %d %s", other.status, other.code)
	}
	if after := ta.breachState(t); after != before || ta.mail.count() != 1 {
		t.Errorf("state changed or mails %d:\n%s\n→\n%s", ta.mail.count(), before, after)
	}
}
