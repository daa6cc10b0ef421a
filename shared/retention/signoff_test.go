package retention

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// TestSignOffPolicyWaitsForItsApproval: a policy that needs sign-off purges
// nothing (reported awaiting-sign-off) while the others run; a complete
// preview records its counts on it, and once approved its run purges.
func TestSignOffPolicyWaitsForItsApproval(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.RetentionPolicies[1].SignOff = true // orders
		t.RetentionPolicies[1].UpdatedAt = sweepNow.Add(-time.Hour)
	})
	f.tenants.writes = 0
	run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []counts{wantCounts[0], {"orders", "awaiting-sign-off", 0, 0, 0, 0, 0}, wantCounts[2], wantCounts[3]}
	if diff := cmp.Diff(want, countsOf(run.Policies)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"o00", "o01", "o02", "o03", "o04", "o05", "o06", "o07", "o08", "o09", "o99"}, f.items.ids("acme", "orders")); diff != "" {
		t.Errorf("orders of the policy awaiting sign-off (-want +got):\n%s", diff)
	}

	writes, deletes := f.tenants.writes, f.items.deletes
	pv, err := f.sweeper(t, nil).Preview(t.Context(), "acme", "orders", time.Hour)
	if err != nil || !pv.Complete {
		t.Fatalf("preview %+v, %v", pv, err)
	}
	tn, _ := f.tenants.GetTenant(t.Context(), "acme")
	p := tn.RetentionPolicy("orders")
	if diff := cmp.Diff(&privacy.RetentionPreviewRecord{At: pv.At, Status: "done", Scanned: 6, Purged: 6}, p.LastPreview); diff != "" {
		t.Errorf("recorded preview (-want +got):\n%s", diff)
	}
	if f.tenants.writes != writes+1 || f.items.deletes != deletes {
		t.Errorf("the preview made %d tenant writes (want its record only) and %d deletes", f.tenants.writes-writes, f.items.deletes-deletes)
	}
	// A preview of policies that need no sign-off records nothing.
	writes = f.tenants.writes
	if _, err := f.sweeper(t, nil).Preview(t.Context(), "acme", "app-logs", time.Hour); err != nil || f.tenants.writes != writes {
		t.Errorf("a preview without sign-off policies wrote %d times (%v)", f.tenants.writes-writes, err)
	}

	f.tenants.change("acme", func(t *privacy.Tenant) {
		p := t.RetentionPolicy("orders")
		p.Approved = &privacy.RetentionApproval{By: "admin:ada", At: sweepNow, PreviewAt: p.LastPreview.At}
	})
	run, err = f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := countsOf(run.Policies)[1]; got != wantCounts[1] {
		t.Errorf("approved policy's report %+v, want %+v", got, wantCounts[1])
	}
	if diff := cmp.Diff(wantOrders, f.items.ids("acme", "orders")); diff != "" {
		t.Errorf("orders left (-want +got):\n%s", diff)
	}
}
