package retention

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// fakeBreach is a tenant's breach records: notices in list order, each
// campaign's remaining recipients, and what was purged.
type fakeBreach struct {
	mu         sync.Mutex
	recs       []BreachRecord
	recipients map[string][]string
	purged     []string
}

func (f *fakeBreach) ListBreachRecords(_ context.Context, tenantID, cursor string, limit int) ([]BreachRecord, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tenantID != "acme" {
		return nil, "", nil
	}
	from, _ := strconv.Atoi(cursor)
	to := min(from+limit, len(f.recs))
	next := ""
	if to < len(f.recs) {
		next = strconv.Itoa(to)
	}
	return slices.Clone(f.recs[from:to]), next, nil
}

func (f *fakeBreach) BreachRecipients(_ context.Context, _, id string, fn func(string) error) error {
	f.mu.Lock()
	rs := slices.Clone(f.recipients[id])
	f.mu.Unlock()
	for _, r := range rs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBreach) PurgeBreachRecord(_ context.Context, _, id string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.recipients, id)
	for i := range f.recs {
		if f.recs[i].IncidentID == id && !f.recs[i].Stripped {
			f.recs[i].Stripped, f.recs[i].Recipients = true, false
			f.purged = append(f.purged, id)
		}
	}
	return nil
}

// breachFixture: a tenant whose breach-records policy (400 days, saved before
// the floors bound it; the Florida and Maryland determinations bind every
// tenant: 5 years) meets seven notices: b1 (closed 2,000 days ago, two
// recipients left) and b7 (2,100 days, none) are purged; b2's recipients
// include a held subject; b3 is open; b4 closed 1,000 days ago, within the
// floor; b5's campaign is still sending; b6 is stripped already.
func breachFixture(tb testing.TB) (*sweepFixture, *fakeBreach) {
	tb.Helper()
	f := newSweepFixture(tb)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.RetentionPolicies = []Policy{{ID: "breaches", Category: CategoryBreachRecords, Scope: ScopeSuite, MaxAgeDays: 400,
			From: FromIncidentClosed, Action: ActionDelete}}
	})
	days := func(n int) time.Time { return sweepNow.AddDate(0, 0, -n) }
	b := &fakeBreach{recs: []BreachRecord{
		{IncidentID: "b1", Closed: true, ClosedAt: days(2000), Recipients: true},
		{IncidentID: "b2", Closed: true, ClosedAt: days(2000), Recipients: true},
		{IncidentID: "b3", ClosedAt: days(3000)},
		{IncidentID: "b4", Closed: true, ClosedAt: days(1000)},
		{IncidentID: "b5", Closed: true, ClosedAt: days(2000), Recipients: true, Sending: true},
		{IncidentID: "b6", Closed: true, ClosedAt: days(2000), Stripped: true},
		{IncidentID: "b7", Closed: true, ClosedAt: days(2100)},
	}, recipients: map[string][]string{"b1": {"ada@example.com", "bob@example.com"}, "b2": {"cy@example.com", "held@example.com"},
		"b5": {"dee@example.com"}}}
	return f, b
}

func (f *sweepFixture) breachSweeper(tb testing.TB, b *fakeBreach, step func(string)) *Sweeper {
	tb.Helper()
	f.directAudit = true
	s := f.sweeper(tb, step)
	s.d.Breach = b
	s.cfg.PageSize = 2
	return s
}

// checkBreach checks a finished run of breachFixture.
func checkBreach(tb testing.TB, f *sweepFixture, b *fakeBreach, run *Run) {
	tb.Helper()
	if diff := cmp.Diff([]counts{{"breaches", "done", 4, 2, 1, 1, 0}}, countsOf(run.Policies)); diff != "" {
		tb.Errorf("report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b1", "b7"}, b.purged); diff != "" {
		tb.Errorf("records purged (-want +got):\n%s", diff)
	}
	var tombs []string
	for _, e := range f.flushed {
		if e.Action == ActionSubjectsPurged {
			if e.Details["category"] != CategoryBreachRecords || e.Details["service"] != "" {
				tb.Errorf("tombstone details: %v", e.Details)
			}
			tombs = append(tombs, e.Details["subjects"])
		}
	}
	if diff := cmp.Diff([]string{"h:ada@example.com h:bob@example.com"}, tombs); diff != "" {
		tb.Errorf("tombstones (-want +got):\n%s", diff)
	}
}

func TestRunPurgesBreachRecordsPastTheirPolicy(t *testing.T) {
	t.Parallel()
	f, b := breachFixture(t)
	p, err := f.breachSweeper(t, b, nil).Preview(t.Context(), "acme", "", time.Hour)
	if err != nil || countsOf(p.Policies)[0] != (counts{"breaches", "done", 4, 2, 1, 1, 0}) || len(b.purged) != 0 {
		t.Fatalf("preview: %+v, %v, %d purged", p, err, len(b.purged))
	}
	run, err := f.breachSweeper(t, b, nil).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run: %+v, %v", run, err)
	}
	checkBreach(t, f, b, run)
	if pr := run.Policies[0]; !pr.FloorCutoff.Equal(AddMonths(sweepNow, -60)) || !slices.Contains(pr.Floors, "us-fl-no-harm-determination") {
		t.Errorf("floor cutoff %v floors %v, want the 5-year determination floors", pr.FloorCutoff, pr.Floors)
	}
}

func TestBreachRecordSweepResumesAfterACrash(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"retention-page-planned#1", "retention-breach-record-purged#1", "retention-page-deleted#1", "retention-breach-record-purged#2"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			f, b := breachFixture(t)
			name, n := point[:len(point)-2], int(point[len(point)-1]-'0')
			func() {
				defer func() {
					if _, ok := recover().(crash); !ok {
						t.Fatal("did not crash")
					}
				}()
				_, _ = f.breachSweeper(t, b, crashAt(name, n)).Run(t.Context(), "acme", "a", time.Hour)
			}()
			f.clock.set(sweepNow.Add(11 * time.Minute))
			run, err := f.breachSweeper(t, b, nil).Run(t.Context(), "acme", "b", time.Hour)
			if err != nil || !run.Finished() {
				t.Fatalf("resumed run: %+v, %v", run, err)
			}
			checkBreach(t, f, b, run)
		})
	}
}

// TestBreachRecordHolds: a tenant hold, or a breach-records category hold,
// keeps every record past the policy (holds are decided before floors); a
// hold of another category keeps none.
func TestBreachRecordHolds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		hold privacy.Hold
		want counts
	}{
		{"tenant hold", privacy.Hold{ID: "h2", Scope: privacy.HoldTenant, Reason: "regulator inquiry"}, counts{"breaches", "done", 4, 0, 4, 0, 0}},
		{"breach-records hold", privacy.Hold{ID: "h2", Scope: privacy.HoldDataCategory, DataCategory: CategoryBreachRecords, Reason: "litigation"},
			counts{"breaches", "done", 4, 0, 4, 0, 0}},
		{"another category's hold", privacy.Hold{ID: "h2", Scope: privacy.HoldDataCategory, DataCategory: CategoryPayment, Reason: "audit"},
			counts{"breaches", "done", 4, 2, 1, 1, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, b := breachFixture(t)
			f.tenants.change("acme", func(t *privacy.Tenant) { t.Holds = append(t.Holds, c.hold) })
			run, err := f.breachSweeper(t, b, nil).Run(t.Context(), "acme", "a", time.Hour)
			if err != nil || !run.Finished() {
				t.Fatalf("run: %+v, %v", run, err)
			}
			if diff := cmp.Diff([]counts{c.want}, countsOf(run.Policies)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if c.want.Purged == 0 && len(b.purged) != 0 {
				t.Errorf("held records purged: %v", b.purged)
			}
		})
	}
}

// TestBreachRecordsNotSweptWithoutAStore: a store without breach records
// reports the policy not-swept with a reason, and the run goes on.
func TestBreachRecordsNotSweptWithoutAStore(t *testing.T) {
	t.Parallel()
	f, _ := breachFixture(t)
	run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run: %+v, %v", run, err)
	}
	if pr := run.Policies[0]; pr.Status != "not-swept" || !strings.Contains(pr.Reason, "does not sweep") {
		t.Errorf("policy %s: %q", pr.Status, pr.Reason)
	}
}
