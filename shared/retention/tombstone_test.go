package retention

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// audited returns the flushed audit events of action, each id once (as the
// audit store appends an id once).
func (f *sweepFixture) audited(action string) []privacy.AuditEvent {
	var out []privacy.AuditEvent
	seen := map[string]bool{}
	for _, e := range f.flushed {
		if e.Action == action && !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// wantTombstones are the subjects of the purged logs (l019, l021-l024,
// l026-l029); the held subject and the orders (no subject) have none.
var wantTombstones = []string{"h:u19@example.com", "h:u21@example.com", "h:u22@example.com", "h:u23@example.com",
	"h:u24@example.com", "h:u26@example.com", "h:u27@example.com", "h:u28@example.com", "h:u29@example.com"}

// checkTombstones checks the tombstone ledger: each purged subject entered
// exactly once, by its keyed hash only, and nothing held.
func (f *sweepFixture) checkTombstones(tb testing.TB) {
	tb.Helper()
	var got []string
	for _, e := range f.audited(ActionSubjectsPurged) {
		got = append(got, strings.Fields(e.Details["subjects"])...)
		if e.Details["service"] != "app" || e.Details["policy"] != "app-logs" || e.SubjectHash != "" {
			tb.Errorf("tombstone %+v", e)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(wantTombstones, got); diff != "" {
		tb.Errorf("tombstoned subjects (-want +got):\n%s", diff)
	}
}

// TestTombstonesOfARedonePageLeaveOutANewHold: a page planned before a
// crash, redone after a subject hold was placed, keeps that subject's item
// and enters no tombstone for it; the other subjects are entered once.
func TestTombstonesOfARedonePageLeaveOutANewHold(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	func() {
		defer func() {
			if _, ok := recover().(crash); !ok {
				t.Fatal("did not crash")
			}
		}()
		_, _ = f.sweeper(t, crashAt("retention-page-planned", 4)).Run(t.Context(), "acme", "a", time.Hour) // l016-l019
	}()
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.Holds = append(t.Holds, privacy.Hold{ID: "h3", Scope: privacy.HoldSubject, SubjectHash: "h:u19@example.com", Reason: "new claim"})
	})
	f.clock.set(sweepNow.Add(11 * time.Minute))
	if _, err := f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.items.ids("acme", "logs"), "l019") {
		t.Error("the item of the subject held since the page was planned was purged")
	}
	var got []string
	for _, e := range f.audited(ActionSubjectsPurged) {
		got = append(got, strings.Fields(e.Details["subjects"])...)
	}
	slices.Sort(got)
	if diff := cmp.Diff(wantTombstones[1:], got); diff != "" {
		t.Errorf("tombstoned subjects (-want +got):\n%s", diff)
	}
}
