package dsr_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// TestTombstonesListASweepsSubjects: a retention sweep's tombstone event
// (one per page, its subjects' keyed hashes) is listed as one ledger entry
// per subject, filtered by service like an erasure's, and a page of the
// ledger resumes after whole events.
func TestTombstonesListASweepsSubjects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	for i, e := range []privacy.AuditEvent{
		{ID: "tmb_1", Details: map[string]string{"subjects": "h1 h2", "service": "app", "policy": "people", "run": "run_1", "category": "customer", "count": "2"}},
		{ID: "tmb_2", Details: map[string]string{"subjects": "h3", "service": "", "policy": "closed", "run": "run_1", "category": "dsr-records", "count": "1"}},
	} {
		e.TenantID, e.At, e.Actor, e.Action, e.Target = "acme", at.Add(time.Duration(i)*time.Second), "system:retention", retention.ActionSubjectsPurged, "retention-run/run_1"
		if err := f.store.AppendAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	all, next, err := f.svc.Tombstones(ctx, "acme", "", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range all {
		got = append(got, s.SubjectHash+" "+s.Service+" "+s.Policy+" "+s.Verification)
		if s.RequestID != "" || s.Run != "run_1" || s.At.IsZero() {
			t.Errorf("entry %+v", s)
		}
	}
	want := []string{"h1 app people retention-purge", "h2 app people retention-purge", "h3  closed retention-purge"}
	if diff := cmp.Diff(want, got); diff != "" || next != 0 {
		t.Errorf("ledger (-want +got), next %d:\n%s", next, diff)
	}
	app, _, err := f.svc.Tombstones(ctx, "acme", "app", 0, 10)
	if err != nil || len(app) != 2 {
		t.Errorf("the app's entries: %+v, %v", app, err)
	}
	first, next, err := f.svc.Tombstones(ctx, "acme", "", 0, 1)
	if err != nil || len(first) != 2 || next == 0 {
		t.Errorf("a page of 1 holds the whole first event: %+v, next %d, %v", first, next, err)
	}
	rest, _, err := f.svc.Tombstones(ctx, "acme", "", next, 10)
	if err != nil || len(rest) != 1 || rest[0].SubjectHash != "h3" {
		t.Errorf("the page after it: %+v, %v", rest, err)
	}
}
