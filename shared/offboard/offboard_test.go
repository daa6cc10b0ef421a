package offboard_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
)

func TestReturnThenDeletePurgesEverythingAndCertifies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	other := f.holdings(t, "initech")
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardReturnThenDelete, operatorActor); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.run(t); out != offboard.Waiting {
		t.Fatalf("run in the notice period: %s, want %s", out, offboard.Waiting)
	}
	v, err := f.off.View(ctx, "acme")
	if err != nil || v.State != offboard.StateWaiting || v.Package == nil {
		t.Fatalf("view in the notice period: %v %+v", err, v)
	}

	// The controller downloads the package with the link alone.
	u, err := url.Parse(v.Package.Link)
	if err != nil || u.Path != "/api/operator/tenants/acme/offboarding/package" {
		t.Fatalf("link %q", v.Package.Link)
	}
	if _, _, err := f.off.Download(ctx, "acme", u.Query().Get("expires"), "forged"); !isCode(err, "unknown-package") {
		t.Errorf("forged link: %v", err)
	}
	rc, _, err := f.off.Download(ctx, "acme", u.Query().Get("expires"), u.Query().Get("sig"))
	if err != nil {
		t.Fatal(err)
	}
	files := zipFiles(t, rc)
	rc.Close()
	for _, name := range []string{"manifest.json", "services/settings.json", "services/services.json", "services/legal-holds.json",
		"services/retention-policies.json", "services/retention-runs.json", "services/requests.json", "services/inbound.json",
		"services/breach-notices.json", "services/audit.json"} {
		if _, ok := files[name]; !ok {
			t.Errorf("package lacks %s", name)
		}
	}
	var requests struct{ Items []privacy.Request }
	if err := json.Unmarshal([]byte(files["services/requests.json"]), &requests); err != nil || len(requests.Items) != 3 {
		t.Errorf("requests.json: %v, %d requests", err, len(requests.Items))
	}
	if strings.Contains(files["services/services.json"], `"secrets"`) || strings.Contains(files["services/settings.json"], "inboundKeys") {
		t.Errorf("the package holds secrets:\n%s\n%s", files["services/services.json"], files["services/settings.json"])
	}
	for _, name := range []string{"services/requests.json", "services/audit.json"} {
		if strings.Contains(files[name], "initech") {
			t.Errorf("%s names the other tenant", name)
		}
	}
	var notices struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(files["services/breach-notices.json"]), &notices); err != nil || len(notices.Items) != 1 ||
		notices.Items[0]["incidentId"] != incident {
		t.Errorf("breach-notices.json: %v, %v", err, notices.Items)
	}
	// The recipient lists are the controller's own upload: never returned.
	for name, body := range files {
		if strings.Contains(body, "ada@example.com") && name != "services/requests.json" && name != "services/audit.json" {
			t.Errorf("%s holds a recipient's address", name)
		}
	}
	if !strings.Contains(files["services/audit.json"], "tenant.offboarding-requested") {
		t.Errorf("the package's audit chain lacks the offboarding request")
	}

	before := f.holdings(t, "acme")
	f.clock.Add(notice)
	if out, _ := f.run(t); out != offboard.Offboarded {
		t.Fatalf("run after the notice period: %s", out)
	}
	if diff := cmp.Diff(gone, f.holdings(t, "acme")); diff != "" {
		t.Errorf("left of the offboarded tenant (-want +got):\n%s", diff)
	}
	if rc, _, err := f.blobs.Open(ctx, offboard.PackageBlob("acme", v.ID)); err == nil {
		rc.Close()
		t.Errorf("the return package outlived the purge")
	}
	if diff := cmp.Diff(other, f.holdings(t, "initech")); diff != "" {
		t.Errorf("the other tenant changed (-before +after):\n%s", diff)
	}
	if _, _, err := f.off.Download(ctx, "acme", u.Query().Get("expires"), u.Query().Get("sig")); !isCode(err, "unknown-package") {
		t.Errorf("download after the purge: %v", err)
	}

	c := certificate(t, f, "acme")
	// The audit chain as it was, plus the purge's start and the stop of
	// the running campaign; the breach records as seeded: one notice, three
	// recipients and a staged list's record, two ledger rows, one campaign.
	want := map[string]int{"audit": before["audit"] + 2, "blobs": 2, "inbound": 0, "items": 0, "messages": before["messages"], "requests": 3,
		"breach-notices": 1, "breach-recipients": 4, "breach-ledger": 2, "breach-campaigns": 1}
	if diff := cmp.Diff(want, c.Deleted); diff != "" {
		t.Errorf("certificate's deleted counts (-want +got):\n%s", diff)
	}
	for kind, n := range c.Remaining {
		if n != 0 {
			t.Errorf("certificate: %d %s remaining", n, kind)
		}
	}
	if c.TenantID != "acme" || c.Choice != "return-then-delete" || c.Package == nil || c.Legal != "GDPR Art. 28(3)(g)" {
		t.Errorf("certificate %+v", c)
	}
	wantActions := []string{"tenant.created", "tenant.offboarding-requested", "tenant.offboarding-packaged",
		"tenant.offboarding-package-downloaded", "tenant.offboarding-purge-started", "tenant.offboarded"}
	if diff := cmp.Diff(wantActions, f.operatorActions(t, "acme")); diff != "" {
		t.Errorf("operator chain (-want +got):\n%s", diff)
	}
	if out, _ := f.run(t); out != offboard.NotOffboarding {
		t.Errorf("a run after the offboarding: %s", out)
	}
}

// certificate reads the tenant's certificate through View and checks its seal.
func certificate(tb testing.TB, f *fixture, id string) offboard.Certificate {
	tb.Helper()
	v, err := f.off.View(ctx, id)
	if err != nil || v.State != offboard.StateOffboarded {
		tb.Fatalf("view after the offboarding: %v %+v", err, v)
	}
	payload, err := f.svc.OpenCertificate(v.Certificate)
	if err != nil {
		tb.Fatalf("the certificate does not verify: %v", err)
	}
	var c offboard.Certificate
	if err := json.Unmarshal(payload, &c); err != nil {
		tb.Fatal(err)
	}
	return c
}

func isCode(err error, code string) bool {
	e, ok := privacy.AsError(err)
	return ok && e.Code == code
}

func TestDeleteChoiceBuildsNoPackage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 500)
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.run(t); out != offboard.Waiting {
		t.Fatalf("run: %s", out)
	}
	if v, err := f.off.View(ctx, "acme"); err != nil || v.Package != nil {
		t.Errorf("view: %v %+v", err, v)
	}
	f.clock.Add(notice)
	if out, _ := f.run(t); out != offboard.Offboarded {
		t.Fatalf("run: %s", out)
	}
	if c := certificate(t, f, "acme"); c.Package != nil || c.Choice != "delete" {
		t.Errorf("certificate %+v", c)
	}
}

func TestHoldsStopThePurgeUntilReleased(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 500)
	other := f.holdings(t, "initech")
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor); err != nil {
		t.Fatal(err)
	}
	admin := dsr.Actor{Admin: "alice"}
	h1, err := f.svc.PlaceHold(ctx, "acme", dsr.HoldInput{Scope: privacy.HoldSubject, Email: "ada@example.com",
		Reason: "pending lawsuit of a named person", Category: privacy.HoldLegalClaims}, admin)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := f.svc.PlaceHold(ctx, "acme", dsr.HoldInput{Scope: privacy.HoldService, Service: "crm",
		Reason: "tax audit", Category: privacy.HoldLegalObligation}, admin)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(notice)
	before := f.holdings(t, "acme")
	if out, _ := f.run(t); out != offboard.Blocked {
		t.Fatalf("run under holds: %s", out)
	}
	if out, _ := f.run(t); out != offboard.Blocked {
		t.Fatalf("second run under holds: %s", out)
	}
	v, err := f.off.View(ctx, "acme")
	if err != nil || v.State != offboard.StateHeld || v.Purge != nil {
		t.Fatalf("view: %v %+v", err, v)
	}
	want := []privacy.HoldRef{{ID: h1.ID, Scope: privacy.HoldSubject, Category: privacy.HoldLegalClaims},
		{ID: h2.ID, Scope: privacy.HoldService, Category: privacy.HoldLegalObligation}}
	if diff := cmp.Diff(want, v.Blocked.Holds); diff != "" {
		t.Errorf("holds shown (-want +got):\n%s", diff)
	}
	b, _ := json.Marshal(v)
	if strings.Contains(string(b), "lawsuit") || strings.Contains(string(b), h1.SubjectHash) || strings.Contains(string(b), "ada@") {
		t.Errorf("the view shows a hold's reason or subject: %s", b)
	}
	after := f.holdings(t, "acme")
	after["audit"]-- // the one audit event of the block (once, though two runs found it)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("held tenant changed (-before +after):\n%s", diff)
	}
	// A cancel is still possible: the purge never started.
	if _, err := f.svc.ReleaseHold(ctx, "acme", h1.ID, admin); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.run(t); out != offboard.Blocked {
		t.Fatalf("run with one hold left: %s", out)
	}
	if _, err := f.svc.ReleaseHold(ctx, "acme", h2.ID, admin); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.run(t); out != offboard.Offboarded {
		t.Fatalf("run after the release: %s", out)
	}
	if diff := cmp.Diff(other, f.holdings(t, "initech")); diff != "" {
		t.Errorf("the other tenant changed (-before +after):\n%s", diff)
	}
	held := 0
	for _, a := range f.operatorActions(t, "acme") {
		if a == "tenant.offboarding-held" {
			held++
		}
	}
	if held != 2 {
		t.Errorf("%d held events in the operator chain, want 2 (two holds, then one)", held)
	}
}

func TestPurgeResumesAfterACrashAtEveryStep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		step string
		skip int
	}{
		{"offboard-package-stored", 0},
		{"offboard-packaged", 0},
		{"offboard-purge-started", 0},
		{"offboard-page", 0},
		{"offboard-page", 3},
		{"offboard-kind-done", 2},
		{"offboard-campaigns-stopped", 0},
		{"offboard-kind-done", 5}, // after the recipients and the ledger
		{"offboard-kind-done", 7}, // after the breach notices
		{"offboard-certified", 0},
		{"offboard-tenant-deleted", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s-%d", tt.step, tt.skip), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 2)
			other := f.holdings(t, "initech")
			if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardReturnThenDelete, operatorActor); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tt.step, "offboard-packag") {
				f.run(t) // the package, before the notice ends
			}
			f.clock.Add(notice)
			f.mu.Lock()
			f.crashAt, f.crashSkip = tt.step, tt.skip
			f.mu.Unlock()
			out, crashed := f.run(t)
			if crashed != tt.step {
				t.Fatalf("run: %s, crashed at %q; want a crash at %s", out, crashed, tt.step)
			}
			for range 3 {
				if out, _ = f.run(t); out == offboard.Offboarded || out == offboard.NotOffboarding {
					break
				}
			}
			if diff := cmp.Diff(gone, f.holdings(t, "acme")); diff != "" {
				t.Errorf("left of the offboarded tenant (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(other, f.holdings(t, "initech")); diff != "" {
				t.Errorf("the other tenant changed (-before +after):\n%s", diff)
			}
			c := certificate(t, f, "acme")
			if c.Deleted["requests"] != 3 || c.Deleted["blobs"] != 2 {
				t.Errorf("certificate counts %v", c.Deleted)
			}
			n := 0
			for _, a := range f.operatorActions(t, "acme") {
				if a == offboard.ActionOffboarded {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d certificates in the operator chain, want 1", n)
			}
		})
	}
}

func TestAHoldPlacedDuringThePurgePausesIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(notice)
	f.mu.Lock()
	f.crashAt = "offboard-kind-done" // stop the first run after its first kind
	f.mu.Unlock()
	if _, crashed := f.run(t); crashed == "" {
		t.Fatal("the first run did not stop")
	}
	admin := dsr.Actor{Admin: "alice"}
	h, err := f.svc.PlaceHold(ctx, "acme", dsr.HoldInput{Scope: privacy.HoldTenant, Reason: "regulator's inquiry", Category: privacy.HoldLegalObligation}, admin)
	if err != nil {
		t.Fatal(err)
	}
	before := f.holdings(t, "acme")
	if out, _ := f.run(t); out != offboard.Blocked {
		t.Fatalf("run under a hold placed mid-purge: %s", out)
	}
	if v, _ := f.off.View(ctx, "acme"); v.State != offboard.StateHeld {
		t.Errorf("view: %+v", v)
	}
	after := f.holdings(t, "acme")
	after["audit"]-- // the block's own event
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("the held tenant changed (-before +after):\n%s", diff)
	}
	if _, err := f.svc.ReleaseHold(ctx, "acme", h.ID, admin); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.run(t); out != offboard.Offboarded {
		t.Fatalf("run after the release: %s", out)
	}
}

// gone is what the holdings of an offboarded tenant must read.
var gone = map[string]int{"audit": 0, "inbound": 0, "messages": 0, "requests": 0,
	"breach-notices": 0, "breach-recipients": 0, "breach-ledger": 0, "breach-campaigns": 0}
