package offboard_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
)

// The offboarding purge and the tenant's breach records: its notices, and
// the data-subject campaigns with their lists and ledger (shared/breachsend).

func TestPurgeStopsARunningCampaignAndWaitsForDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	other := f.holdings(t, "initech")
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(notice)
	// A delivery of acme's campaign is in flight: it holds batch 0.
	now := f.clock.Now()
	if ok, err := f.subjects.ClaimBatch(ctx, "acme", incident, 0, "in-flight", now, now.Add(30*time.Second)); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	before := f.holdings(t, "acme")
	if out, _ := f.run(t); out != offboard.Stopping {
		t.Fatalf("run with a delivery in flight: %s, want %s", out, offboard.Stopping)
	}
	c, err := f.send.Campaign(ctx, "acme", incident)
	if err != nil || c.State != breachsend.StateStopped || c.StoppedBy != breachsend.StoppedByOffboarding {
		t.Fatalf("acme's campaign: %v %+v", err, c)
	}
	// Nothing was purged, nor counted: the purge has not started.
	if v, _ := f.off.View(ctx, "acme"); v.Purge != nil {
		t.Errorf("the purge started while a delivery was in flight: %+v", v.Purge)
	}
	after := f.holdings(t, "acme")
	after["audit"]-- // the stop's own event, breach.subjects.stopped
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("acme changed while waiting (-before +after):\n%s", diff)
	}
	// A batch delivered now sends nothing, and a second start restarts nothing.
	if err := f.send.Deliver(ctx, "acme", breachsend.Work{IncidentID: incident, ListID: c.ListID, Version: c.NoticeVersion, Batch: 0, From: 1, To: 3}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := f.send.Start(ctx, "acme", incident, "admin:alice"); err != nil || got.State != breachsend.StateStopped {
		t.Errorf("start after the stop: %v %+v", err, got)
	}
	if n, _ := f.subjects.CountTenantData(ctx, "acme", privacy.DataKindBreachLedger); n != 2 {
		t.Errorf("ledger rows after a stopped batch: %d, want the 2 seeded", n)
	}
	// The claim runs out (or the delivery ends): the purge goes on.
	f.clock.Add(31 * time.Second)
	if out, _ := f.run(t); out != offboard.Offboarded {
		t.Fatalf("run once no delivery is in flight: %s", out)
	}
	if diff := cmp.Diff(gone, f.holdings(t, "acme")); diff != "" {
		t.Errorf("left of the offboarded tenant (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(other, f.holdings(t, "initech")); diff != "" {
		t.Errorf("the other tenant changed (-before +after):\n%s", diff)
	}
	if c, err := f.send.Campaign(ctx, "initech", incident); err != nil || c.State != breachsend.StateSending || c.Sent != 2 {
		t.Errorf("the other tenant's campaign: %v %+v", err, c)
	}
	if n, err := f.store.GetNotice(ctx, "initech", incident); err != nil || n.IncidentID != incident {
		t.Errorf("the other tenant's notice: %v", err)
	}
	// The campaign and the batch claim the delivery left (run out).
	if c := certificate(t, f, "acme"); c.Deleted["breach-campaigns"] != 2 || c.Remaining["breach-campaigns"] != 0 {
		t.Errorf("certificate counts %v, remaining %v", c.Deleted, c.Remaining)
	}
}

func TestACancelAfterTheStopLeavesTheListToItsKeep(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 500)
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(notice)
	now := f.clock.Now()
	if _, err := f.subjects.ClaimBatch(ctx, "acme", incident, 0, "in-flight", now, now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.run(t); out != offboard.Stopping {
		t.Fatalf("run: %s", out)
	}
	tn, err := f.store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CancelOffboarding(ctx, "acme", tn.ETag, operatorActor); err != nil {
		t.Fatalf("cancel before the purge started: %v", err)
	}
	c, err := f.send.Campaign(ctx, "acme", incident)
	if err != nil || c.State != breachsend.StateStopped || !c.ExpiresAt.Equal(now.Add(30*24*time.Hour)) {
		t.Fatalf("the stopped campaign: %v %+v", err, c)
	}
	f.clock.Add(31 * 24 * time.Hour)
	if n, err := f.send.Watch(ctx, 100); err != nil || n < 1 {
		t.Fatalf("watch after the keep: %d, %v", n, err)
	}
	if n, _ := f.subjects.CountRecipients(ctx, "acme", incident); n != 0 {
		t.Errorf("%d recipients kept past the keep", n)
	}
}
