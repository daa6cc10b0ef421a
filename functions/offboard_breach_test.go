package main

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqlite"
)

// approvedSubjectNotices approves the subject notice of every incident.
type approvedSubjectNotices struct{}

func (approvedSubjectNotices) SubjectNotice(_ context.Context, _, incidentID string) (breachsend.Notice, error) {
	return breachsend.Notice{IncidentID: incidentID, Version: 1, Approved: true,
		Subject: map[string]string{"en": "About a breach"}, Text: map[string]string{"en": "What happened."}}, nil
}

// TestNoBreachCampaignOnceTheOffboardingPurgeStarted: once a tenant's
// offboarding purge has started (it stopped the tenant's campaigns and
// deletes their lists), an upload or a start is 409
// offboarding-purge-started and writes nothing; before it, in the notice
// period, both still work; another tenant is not affected.
func TestNoBreachCampaignOnceTheOffboardingPurgeStarted(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "breach.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ta := newTestAppWith(t, func(ad *adapters) { ad.breachStore, ad.notices = db.BreachSend(), approvedSubjectNotices{} })
	admin := bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey))
	csv := map[string]string{"Content-Type": "text/csv", "Authorization": admin["Authorization"]}
	list := "email\nada@example.com\n"
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/incidents/inc-1/recipients", header: csv, body: list}); r.status != http.StatusOK {
		t.Fatalf("upload before the offboarding: %d %q", r.status, r.code)
	}
	if _, err := ta.svc.OffboardTenant(context.Background(), "acme", "", privacy.OffboardDelete, dsr.Actor{Operator: "olga"}); err != nil {
		t.Fatal(err)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/incidents/inc-2/recipients", header: csv, body: list}); r.status != http.StatusOK {
		t.Fatalf("upload in the notice period: %d %q", r.status, r.code)
	}
	// The purge starts (as the watch records it).
	tn, err := ta.store.GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	tn.Offboarding.Purge = &privacy.OffboardPurge{StartedAt: time.Now(), Found: map[string]int{}}
	if err := ta.store.UpdateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	before, _ := db.BreachSend().CountTenantData(context.Background(), "acme", privacy.DataKindBreachRecipients)
	for _, c := range []call{
		{method: "POST", path: "/api/admin/acme/incidents/inc-3/recipients", header: csv, body: list},
		{method: "POST", path: "/api/admin/acme/incidents/inc-1/notify-subjects", header: admin},
	} {
		if r := ta.do(t, c); r.status != http.StatusConflict || r.code != "offboarding-purge-started" {
			t.Errorf("%s %s during the purge: %d %q", c.method, c.path, r.status, r.code)
		}
	}
	if after, _ := db.BreachSend().CountTenantData(context.Background(), "acme", privacy.DataKindBreachRecipients); after != before {
		t.Errorf("refused calls wrote recipients: %d before, %d after", before, after)
	}
	other := bearer(ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey))
	otherCSV := map[string]string{"Content-Type": "text/csv", "Authorization": other["Authorization"]}
	if r := ta.do(t, call{method: "POST", path: "/api/admin/globex/incidents/inc-1/recipients", header: otherCSV, body: list}); r.status != http.StatusOK {
		t.Errorf("another tenant's upload: %d %q", r.status, r.code)
	}
}
