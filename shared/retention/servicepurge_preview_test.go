package retention

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// TestPreviewDryRunsAServicesPurge (issue 12, item 5): a webhook service
// that lists purge-dry-run is sent the purge with dryRun (a fresh purge id,
// never a run's, the exclusion list of the subject holds) and its counts are
// the preview's; one answering that it has no dry run is not-previewed with
// that reason; a Service Bus service is not-previewed (it answers later than
// a preview waits). Nothing is purged and no run or checkpoint is written.
func TestPreviewDryRunsAServicesPurge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		notFound   bool
		wantStatus string
		wantReason string
		wantCounts purgeCounts
		keptByHold int64
	}{
		{name: "counts", wantStatus: "done", wantCounts: purgeCounts{"crm-customers", "done", 42, 40, 2}},
		{name: "no dry run", notFound: true, wantStatus: "not-previewed", wantReason: "has no dry run",
			wantCounts: purgeCounts{"crm-customers", "not-previewed", 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, p, s := purgeFixture(t, func(t *privacy.Tenant) {
				t.Services[0].Actions = append(t.Services[0].Actions, privacy.ActionPurgeDryRun)
				t.RetentionPolicies = t.RetentionPolicies[:1]
				t.Holds = []privacy.Hold{{ID: "h1", Scope: privacy.HoldSubject, SubjectHash: "h:ada@example.com", Reason: "email:ada@example.com"}}
			})
			s.d.HeldEmail = heldEmail
			p.notFound = tt.notFound
			before := f.snapshot()
			pv, err := s.Preview(t.Context(), "acme", "", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			pr := pv.Policies[0]
			if diff := cmp.Diff(tt.wantCounts, purgeCountsOf(pv.Policies)[0]); diff != "" || !strings.Contains(pr.Reason, tt.wantReason) {
				t.Errorf("report (-want +got):\n%s reason %q", diff, pr.Reason)
			}
			calls := p.callsMade()
			if len(calls) != 1 || !calls[0].DryRun || !strings.HasPrefix(calls[0].PurgeID, "preview_") || calls[0].Exclusions == nil || len(calls[0].Exclusions.Hashes) != 1 {
				t.Fatalf("calls %+v", calls)
			}
			if p.purged != 0 {
				t.Errorf("a dry run purged %d", p.purged)
			}
			if diff := cmp.Diff(before, f.snapshot()); diff != "" {
				t.Errorf("the preview wrote (-before +after):\n%s", diff)
			}
		})
	}

	// A Service Bus service's purge is not previewed, and nothing is sent.
	_, q, s := busFixture(t, nil)
	pv, err := s.Preview(t.Context(), "acme", "erp-orders", time.Minute)
	if err != nil || pv.Policies[0].Status != "not-previewed" || len(q.published()) != 0 {
		t.Errorf("Service Bus preview: %+v, %v, %d sent", pv, err, len(q.published()))
	}
}
