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
	"github.com/privops/privops/shared/privacy"
)

// backdate moves a stored request's due date into the past and, when
// failedTask, gives it a failed task: the states a health read counts.
func (ta *testApp) backdate(tb testing.TB, tenant, id string, failedTask bool) {
	tb.Helper()
	ctx := context.Background()
	r, err := ta.store.GetRequest(ctx, tenant, id)
	if err != nil {
		tb.Fatal(err)
	}
	r.Due.At = time.Now().Add(-48 * time.Hour)
	if failedTask {
		r.Tasks = append(r.Tasks, privacy.Task{ID: id + "-crm-erase", Service: "crm", Action: privacy.ActionErase,
			Status: privacy.TaskFailed, Reason: "the service answered 400"})
	}
	if err := ta.store.UpdateRequest(ctx, r); err != nil {
		tb.Fatal(err)
	}
}

// TestOperatorTenantHealth: a tenant's health holds counts of its own
// requests only (another tenant's overdue request and failed task never
// show, nor its dead-lettered message; an incident of acme's does not count
// for demo), every operator role may read it, a tenant token gets 404, and the
// answer names no subject.
func TestOperatorTenantHealth(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	late, _ := ta.submit(t, "acme", "late@example.com")
	ta.submit(t, "acme", "fresh@example.com")
	ta.backdate(t, "acme", late, true)
	other, _ := ta.submit(t, "globex", "other@example.com")
	ta.backdate(t, "globex", other, true)
	// An incident reaching acme only; inbound messages: acme has one
	// rejected and one accepted, globex one rejected.
	ta.breachContacts(t)
	if r := ta.do(t, call{method: "POST", path: "/api/operator/incidents", header: bearer(ta.operatorToken(t, auth.RoleSecurityOfficer)),
		body: incidentJSON(`,"tenants":["acme"]`)}); r.status != http.StatusCreated {
		t.Fatalf("declare: %d %s", r.status, r.text)
	}
	now := time.Now().UTC()
	for i, rec := range []privacy.InboundRecord{
		{TenantID: "acme", ID: "rj-1", Status: privacy.InboundRejected, Code: "bad-signature"},
		{TenantID: "acme", ID: "ce-1", Status: privacy.InboundAccepted},
		{TenantID: "globex", ID: "rj-2", Status: privacy.InboundRejected, Code: "bad-signature"},
	} {
		rec.ReceivedAt, rec.ExpiresAt = now.Add(time.Duration(-i)*time.Minute), now.Add(24*time.Hour)
		if err := ta.store.CreateInbound(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
	}

	type health struct {
		TenantID     string         `json:"tenantId"`
		Status       string         `json:"status"`
		OpenRequests map[string]int `json:"openRequests"`
		Overdue      int            `json:"overdue"`
		FailedTasks  int            `json:"failedTasks"`
		Retention    struct {
			State string `json:"state"`
		} `json:"retention"`
		OpenIncidents int      `json:"openIncidents"`
		DeadLettered  int      `json:"deadLettered"`
		Truncated     []string `json:"truncated"`
	}
	for _, tc := range []struct {
		name, tenant string
		want         health
	}{
		{"acme counts its own", "acme", health{TenantID: "acme", Status: "active",
			OpenRequests: map[string]int{"awaiting-verification": 2}, Overdue: 1, FailedTasks: 1, OpenIncidents: 1, DeadLettered: 1, Truncated: []string{}}},
		{"demo has nothing open", "demo", health{TenantID: "demo", Status: "active", OpenRequests: map[string]int{}, Truncated: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, role := range auth.OperatorRoles {
				r := ta.do(t, call{method: "GET", path: "/api/operator/tenants/" + tc.tenant + "/health", header: bearer(ta.operatorToken(t, role))})
				if r.status != http.StatusOK {
					t.Fatalf("%s: %d %s", role, r.status, r.text)
				}
				var got health
				if err := json.Unmarshal([]byte(r.text), &got); err != nil {
					t.Fatal(err)
				}
				tc.want.Retention.State = "none"
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: health (-want +got):\n%s", role, diff)
				}
				if strings.Contains(r.text, "@example.com") || strings.Contains(r.text, late) {
					t.Errorf("%s: the health answer names a subject or a request: %s", role, r.text)
				}
			}
		})
	}
}

// TestOperatorTenantHealthRefusals: who may not read a tenant's health, and
// an unknown tenant.
func TestOperatorTenantHealthRefusals(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"tenant admin token", "/api/operator/tenants/acme/health", ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey), http.StatusNotFound, "not-found"},
		{"tenant token for another tenant", "/api/operator/tenants/globex/health", ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey), http.StatusNotFound, "not-found"},
		{"no token", "/api/operator/tenants/acme/health", "", http.StatusUnauthorized, ""},
		{"unknown tenant", "/api/operator/tenants/nosuch/health", ta.operatorToken(t, auth.RoleOperatorViewer), http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := map[string]string{}
			if tc.token != "" {
				h = bearer(tc.token)
			}
			r := ta.do(t, call{method: "GET", path: tc.path, header: h})
			if r.status != tc.status || (tc.code != "" && r.code != tc.code) {
				t.Errorf("got %d %q, want %d %q: %s", r.status, r.code, tc.status, tc.code, r.text)
			}
			if r.body["openRequests"] != nil {
				t.Errorf("a refusal carried counts: %s", r.text)
			}
		})
	}
}
