package retention

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestClockJumpsDuringARun: a run's cutoffs are fixed when it starts, so a
// clock that jumps mid-run (a DST change in the tenant's zone never matters:
// all is UTC; an NTP correction back, a suspended machine forward) changes
// no decision. A jump forward past the lease lets another invocation take
// the run over from its checkpoint; the first one's next checkpoint finds the
// run taken and stops. Each item is counted once, nothing held is touched.
func TestClockJumpsDuringARun(t *testing.T) {
	t.Parallel()
	for _, jump := range []time.Duration{-3 * time.Hour, 90 * time.Minute, 25 * time.Hour} {
		t.Run(jump.String(), func(t *testing.T) {
			t.Parallel()
			f := newSweepFixture(t)
			var taken *Run
			jumped := false
			step := func(name string) {
				if name != "retention-page-deleted" || jumped {
					return
				}
				jumped = true
				f.clock.set(sweepNow.Add(jump))
				if jump > 10*time.Minute { // past the lease: another invocation takes over now
					run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour)
					if err != nil {
						t.Errorf("takeover: %v", err)
					}
					taken = run
				}
			}
			first, err := f.sweeper(t, step).Run(t.Context(), "acme", "a", time.Hour)
			run := first
			if taken != nil {
				if err == nil {
					t.Fatal("the first invocation went on after its run was taken over")
				}
				run = taken
			} else if err != nil {
				t.Fatal(err)
			}
			if !run.Finished() {
				t.Fatalf("run not finished: %+v", run)
			}
			f.check(t, run)
			f.checkTombstones(t)
			if diff := cmp.Diff(sweepNow.AddDate(0, 0, -30), run.Policies[0].Cutoff); diff != "" {
				t.Errorf("cutoff moved with the clock (-want +got):\n%s", diff)
			}
			tn, _ := f.tenants.GetTenant(t.Context(), "acme")
			runs, _ := Runs(tn)
			if len(runs) != 1 {
				t.Errorf("%d runs stored, want the one", len(runs))
			}
		})
	}
}
