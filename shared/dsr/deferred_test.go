package dsr_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// With DeferOutbox the writer leaves its outbox in the stored request and
// answers; the change feed (the outbox function) calls FlushRequest for each
// changed request. The lifecycle must then be the same as inline, with every
// step waiting for the feed.
func TestDeferredOutboxIsCarriedOutByTheFeed(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t, func(c *dsr.Config) { c.DeferOutbox = true })
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile), webhook("billing", eraseActions, privacy.CategoryBilling))
	f.setGrace(t, "acme", 0)
	before := len(f.auditActions(t, "acme")) // tenant and service changes append directly

	r := f.approved(t, privacy.TypeErase, privacy.CategoryProfile, privacy.CategoryBilling)
	if stored := f.get(t, r.ID); len(stored.Outbox) == 0 {
		t.Fatal("the approval flushed its outbox inline; want it left for the feed")
	}
	if got := f.receiveAll(t); len(got) != 0 {
		t.Fatalf("%d task messages published before the feed ran", len(got))
	}
	if got := f.auditActions(t, "acme")[before:]; len(got) != 0 {
		t.Fatalf("audit %v appended before the feed ran", got)
	}

	// The feed: every change of the request brings it to FlushRequest, twice
	// here, as a replayed batch would.
	feed := func() {
		t.Helper()
		for range 2 {
			if err := f.svc.FlushRequest(ctx, "acme", r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 10 {
		feed()
		if f.drain(t) == nil {
			break
		}
	}
	got := f.get(t, r.ID)
	if got.Status != privacy.StatusCompleted || len(got.Outbox) != 0 {
		t.Fatalf("request = %s with %d outbox events, want completed and an empty outbox", got.Status, len(got.Outbox))
	}
	want := []string{"request.submitted", "request.approved", "request.fanned-out"}
	if diff := cmp.Diff(want, f.auditActions(t, "acme")[before:before+3]); diff != "" {
		t.Errorf("first audit entries (-want +got):\n%s", diff)
	}
	if n := f.conn.count("crm", privacy.ActionErase) + f.conn.count("billing", privacy.ActionErase); n != 2 {
		t.Errorf("erase calls = %d, want one per service", n)
	}

	// A request the feed names but the store no longer has is nothing to do.
	if err := f.svc.FlushRequest(ctx, "acme", "dsr_gone"); err != nil {
		t.Errorf("flush of a missing request: %v", err)
	}
	// Another tenant's id under this tenant is not found, so nothing happens.
	if err := f.svc.FlushRequest(ctx, "globex", r.ID); err != nil {
		t.Errorf("flush under the wrong tenant: %v", err)
	}
}
