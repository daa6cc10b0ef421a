package retention

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/sender"
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

// TestPreviewDryRunsAServiceBusPurge: a Service Bus service listing
// purge-dry-run is sent a dry-run command (dryRun, a preview id carrying the
// preview's deadline); the preview waits, within its time, for the answer
// the inbound queue records, and reports its counts. No run is started and
// nothing of a run is written; an answer that never comes leaves the policy
// not-previewed with the reason.
func TestPreviewDryRunsAServiceBusPurge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer *PurgeAnswer // nil: the service never answers
		status string
		counts purgeCounts
	}{
		{name: "answered", answer: &PurgeAnswer{ID: "ce-1", Purged: 30, Kept: 2, KeptByHold: 1}, status: "done",
			counts: purgeCounts{"erp-orders", "done", 33, 30, 2}},
		{name: "answered not-supported", answer: &PurgeAnswer{ID: "ce-1", NotSupported: true}, status: "not-previewed",
			counts: purgeCounts{"erp-orders", "not-previewed", 0, 0, 0}},
		{name: "never answered", status: "not-previewed", counts: purgeCounts{"erp-orders", "not-previewed", 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, q, s := busFixture(t, func(t *privacy.Tenant) {
				t.Services[0].Actions = append(t.Services[0].Actions, privacy.ActionPurgeDryRun)
				t.RetentionPolicies = t.RetentionPolicies[:1]
			})
			sleeps := 0
			s.d.Sleep = func(_ context.Context, d time.Duration) {
				sleeps++
				if sleeps == 2 && tt.answer != nil { // the service answers while the preview waits
					var ev struct{ Data sender.PurgeCommand }
					_ = json.Unmarshal(q.published()[0].Body, &ev)
					a := *tt.answer
					a.RunID, a.PolicyID, a.DryRun = ev.Data.RunID, ev.Data.PolicyID, true
					if err := s.RecordPurgeAnswer(context.Background(), "acme", a); err != nil {
						t.Errorf("RecordPurgeAnswer: %v", err)
					}
				}
				f.clock.set(f.clock.Now().Add(d))
			}
			pv, err := s.Preview(t.Context(), "acme", "", 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.counts, purgeCountsOf(pv.Policies)[0]); diff != "" || pv.Policies[0].Reason == "" && tt.status != "done" {
				t.Errorf("report (-want +got):\n%s reason %q", diff, pv.Policies[0].Reason)
			}
			msgs := q.published()
			var ev struct{ Data sender.PurgeCommand }
			if len(msgs) != 1 || json.Unmarshal(msgs[0].Body, &ev) != nil || !ev.Data.DryRun || !strings.HasPrefix(ev.Data.RunID, "preview_") {
				t.Fatalf("commands %d: %+v", len(msgs), ev.Data)
			}
			if st := f.state(t); st.Current != nil || len(st.Recent) != 0 {
				t.Errorf("the preview started a run: %+v", st)
			}
		})
	}
}

// TestServiceBusDryRunAnswerRefusals: a dry run's answer is kept once and
// only while its preview waits; a sweep's checkpoint keeps it.
func TestServiceBusDryRunAnswerRefusals(t *testing.T) {
	t.Parallel()
	f, _, s := busFixture(t, nil)
	live := previewID(sweepNow.Add(20 * time.Second))
	ok := PurgeAnswer{ID: "ce-1", RunID: live, PolicyID: "erp-orders", DryRun: true, Purged: 3}
	if err := s.RecordPurgeAnswer(t.Context(), "acme", ok); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		a    PurgeAnswer
		code string
	}{
		{"the same answer again", ok, ""},
		{"a second answer", PurgeAnswer{ID: "ce-2", RunID: live, PolicyID: "erp-orders", DryRun: true}, "purge-answered"},
		{"after the preview stopped waiting", PurgeAnswer{ID: "ce-3", RunID: previewID(sweepNow.Add(-time.Second)), PolicyID: "erp-orders", DryRun: true}, "purge-not-awaited"},
		{"not a preview's id", PurgeAnswer{ID: "ce-4", RunID: "run-1", PolicyID: "erp-orders", DryRun: true}, "unknown-purge"},
		{"a policy on a webhook service", PurgeAnswer{ID: "ce-5", RunID: live, PolicyID: "crm-customers", DryRun: true}, "unknown-purge"},
		{"another tenant", PurgeAnswer{ID: "ce-6", RunID: live, PolicyID: "erp-orders", DryRun: true}, "unknown-purge"},
	} {
		tenant := "acme"
		if tt.name == "another tenant" {
			tenant = "globex"
		}
		before := f.snapshot()
		if got := codeOf(s.RecordPurgeAnswer(t.Context(), tenant, tt.a)); got != tt.code {
			t.Errorf("%s: code %q, want %q", tt.name, got, tt.code)
		}
		if !cmp.Equal(before, f.snapshot()) {
			t.Errorf("%s changed the store", tt.name)
		}
	}
	// A sweep's checkpoints carry the answer over as stored.
	if _, err := s.Run(t.Context(), "acme", "a", time.Hour); err != nil {
		t.Fatal(err)
	}
	tn, _ := f.tenants.GetTenant(t.Context(), "acme")
	if got := previewAnswers(tn.Retention); len(got) != 1 || got[0].ID != "ce-1" || got[0].Purged != 3 {
		t.Errorf("after a sweep: %+v", got)
	}
}
