package retention

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// TestStorageOnlyMarksAndKeeps: a storage-only policy (PIPL Art. 47) deletes
// nothing: it marks what is past it (holds and floors still win), counts it
// storageOnly, enters no tombstone, and a second run does not count the
// marked items again.
func TestStorageOnlyMarksAndKeeps(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.RetentionPolicies = t.RetentionPolicies[:2]
		t.RetentionPolicies[0].Action = ActionStorageOnly
	})
	run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := run.Policies[0]
	got := []int64{p.Scanned, p.Purged, p.StorageOnly, p.KeptByHold, p.KeptByFloor, p.Failed}
	if diff := cmp.Diff([]int64{26, 0, 9, 3, 14, 0}, got); diff != "" {
		t.Errorf("scanned, purged, storageOnly, keptByHold, keptByFloor, failed (-want +got):\n%s", diff)
	}
	if n := len(f.items.ids("acme", "logs")); n != 30 {
		t.Errorf("%d logs left, want all 30", n)
	}
	want := []string{"l019", "l021", "l022", "l023", "l024", "l026", "l027", "l028", "l029"}
	if diff := cmp.Diff(want, f.items.marked("acme", "logs")); diff != "" {
		t.Errorf("marked (-want +got):\n%s", diff)
	}
	for _, e := range f.audited(ActionSubjectsPurged) {
		if e.Details["policy"] == "app-logs" {
			t.Errorf("a tombstone for items kept storage-only: %+v", e)
		}
	}
	again, err := f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p := again.Policies[0]; p.StorageOnly != 0 || p.Scanned != 17 {
		t.Errorf("second run counted %d storage-only of %d scanned; want 0 of 17 (the marked ones are done)", p.StorageOnly, p.Scanned)
	}
}

// TestAnonymiseClosedRequests: anonymise on closed requests strips them as
// delete does (the stub stays) and reports them anonymised, not purged.
func TestAnonymiseClosedRequests(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	reqs := &fakeRequests{docs: map[string][]byte{}, tags: map[string]int{}}
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.Holds = nil
		t.RetentionPolicies = []Policy{{ID: "dsrs", Category: CategoryDSRRecords, Scope: ScopeSuite, MaxAgeDays: 731, From: FromRequestClosed, Action: ActionAnonymise}}
	})
	reqs.add(&privacy.Request{ID: "r1", TenantID: "acme", Status: privacy.StatusCompleted, SubjectHash: "s1",
		Subject: privacy.Subject{Email: "ada@example.com"}, UpdatedAt: sweepNow.AddDate(-3, 0, 0)})
	reqs.add(&privacy.Request{ID: "r2", TenantID: "acme", Status: privacy.StatusCompleted, SubjectHash: "s2",
		Subject: privacy.Subject{Email: "bob@example.com"}, UpdatedAt: sweepNow.AddDate(0, -1, 0)})
	s := f.packagesSweeper(t, reqs, &fakeBlobs{}, nil)
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := run.Policies[0]
	if got := []int64{p.Scanned, p.Purged, p.Anonymised}; !cmp.Equal([]int64{1, 0, 1}, got) {
		t.Errorf("scanned, purged, anonymised = %v, want [1 0 1]", got)
	}
	if r := reqs.get("r1"); r.Subject.Email != "" || r.StrippedAt.IsZero() || r.SubjectHash != "s1" {
		t.Errorf("r1 not stripped to its stub: %+v", r)
	}
	if r := reqs.get("r2"); r.Subject.Email == "" {
		t.Error("r2, younger than the policy, was stripped")
	}
}
