package retention

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

var sweepNow = time.Date(2030, 6, 30, 2, 0, 0, 0, time.UTC)

// sweepFixture is a tenant under PIPL (the 6-month CSL floor binds its logs)
// with two built-in containers and four policies, one of each fate.
type sweepFixture struct {
	tenants *fakeTenants
	items   *fakeItems
	clock   *clock
	flushed []privacy.AuditEvent
	runs    int
	// directAudit: tombstones go straight into the chain (Deps.Audit, as
	// the app wires it) instead of the checkpoint's outbox.
	directAudit bool
}

func newSweepFixture(tb testing.TB) *sweepFixture {
	tb.Helper()
	t := &privacy.Tenant{ID: "acme", Name: "Acme", Regimes: []string{privacy.RegimePIPL},
		Services: []privacy.Service{
			{ID: "app", Kind: privacy.KindCosmos, Container: "logs", IdentityPaths: map[string]string{"email": "/user/email"}},
			{ID: "shop", Kind: privacy.KindCosmos, Container: "orders"},
		},
		Holds: []privacy.Hold{{ID: "h1", Scope: privacy.HoldSubject, SubjectHash: "h:held@example.com", Reason: "litigation"}},
		RetentionPolicies: []Policy{
			// Saved before the tenant answered under PIPL: below today's floor,
			// which the sweep still enforces item by item.
			{ID: "app-logs", Category: CategorySystemLogs, Scope: ScopeService, Service: "app", MaxAgeDays: 30, From: FromCreated, TimestampPath: "/at", Action: ActionDelete},
			{ID: "orders", Category: CategoryPayment, Scope: ScopeService, Service: "shop", MaxAgeDays: 365, From: FromCreated, TimestampPath: "/createdAt", Action: ActionDelete},
			{ID: "dsrs", Category: CategoryDSRRecords, Scope: ScopeSuite, MaxAgeDays: 731, From: FromRequestClosed, Action: ActionDelete},
			{ID: "gone", Category: CategoryCustomer, Scope: ScopeService, Service: "removed", MaxAgeDays: 30, From: FromCreated, TimestampPath: "/at", Action: ActionDelete},
		}}
	f := &sweepFixture{tenants: newFakeTenants(t), items: newFakeItems(), clock: &clock{now: sweepNow}}
	for i := range 30 {
		email := fmt.Sprintf("u%d@example.com", i)
		if i == 10 || i == 20 || i == 25 {
			email = "held@example.com"
		}
		f.items.put("acme", "logs", fmt.Sprintf("l%03d", i), map[string]any{"at": sweepNow.AddDate(0, 0, -10*i).Format(time.RFC3339), "user": map[string]any{"email": email}})
	}
	for i := range 10 {
		f.items.put("acme", "orders", fmt.Sprintf("o%02d", i), map[string]any{"createdAt": sweepNow.AddDate(0, 0, -100*i).Format(time.RFC3339)})
	}
	f.items.put("acme", "orders", "o99", map[string]any{"createdAt": "yesterday"})
	f.items.put("globex", "logs", "l029", map[string]any{"at": "2000-01-01T00:00:00Z"}) // another tenant, same id
	return f
}

func (f *sweepFixture) sweeper(tb testing.TB, step func(string)) *Sweeper {
	tb.Helper()
	s, err := NewSweeper(Config{PageSize: 4}, Deps{Tenants: f.tenants, Items: f.items, Now: f.clock.Now, Step: step,
		Hash:  func(_, email string) string { return "h:" + email },
		NewID: func() string { f.runs++; return fmt.Sprintf("run-%d", f.runs) },
		Flush: func(_ context.Context, t *privacy.Tenant) (*privacy.Tenant, error) {
			f.flushed = append(f.flushed, t.PendingAudit...)
			t.PendingAudit = nil
			return t, f.tenants.UpdateTenant(context.Background(), t)
		}})
	if err != nil {
		tb.Fatal(err)
	}
	if f.directAudit {
		s.d.Audit = func(_ context.Context, e *privacy.AuditEvent) error {
			f.flushed = append(f.flushed, *e)
			return nil
		}
	}
	return s
}

// counts strips a report to what the tests compare.
type counts struct {
	Policy, Status                                   string
	Scanned, Purged, KeptByHold, KeptByFloor, Failed int64
}

func countsOf(rs []PolicyReport) []counts {
	var out []counts
	for _, r := range rs {
		out = append(out, counts{r.PolicyID, r.Status, r.Scanned, r.Purged, r.KeptByHold, r.KeptByFloor, r.Failed})
	}
	return out
}

// The expected outcome. Logs l000-l029 are 0-290 days old: l000-l003 are not
// past 30 days; l004-l018 (40-180 days) are within the 6-month floor, except
// l010, held; of l019-l029, l020 and l025 are held and 9 are purged. Orders
// o04-o09 are past 365 days; o99's time is unreadable and is never touched.
var (
	wantCounts = []counts{
		{"app-logs", "done", 26, 9, 3, 14, 0},
		{"orders", "done", 6, 6, 0, 0, 0},
		{"dsrs", "not-swept", 0, 0, 0, 0, 0},
		{"gone", "failed", 0, 0, 0, 0, 0},
	}
	wantLogs   = []string{"l000", "l001", "l002", "l003", "l004", "l005", "l006", "l007", "l008", "l009", "l010", "l011", "l012", "l013", "l014", "l015", "l016", "l017", "l018", "l020", "l025"}
	wantOrders = []string{"o00", "o01", "o02", "o03", "o99"}
)

func (f *sweepFixture) check(tb testing.TB, run *Run) {
	tb.Helper()
	if diff := cmp.Diff(wantCounts, countsOf(run.Policies)); diff != "" {
		tb.Errorf("report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLogs, f.items.ids("acme", "logs")); diff != "" {
		tb.Errorf("logs left (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantOrders, f.items.ids("acme", "orders")); diff != "" {
		tb.Errorf("orders left (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"l029"}, f.items.ids("globex", "logs")); diff != "" {
		tb.Errorf("another tenant's items (-want +got):\n%s", diff)
	}
}

func TestRunPurgesWhatIsPastItsTimeOnly(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Finished() {
		t.Fatal("run did not finish")
	}
	f.check(t, run)
	p := run.Policies[0]
	if diff := cmp.Diff([]any{sweepNow.AddDate(0, 0, -30), time.Date(2029, 12, 30, 2, 0, 0, 0, time.UTC), []string{"cn-csl-network-logs"},
		sweepNow.AddDate(0, 0, -290), sweepNow.AddDate(0, 0, -190)},
		[]any{p.Cutoff, p.FloorCutoff, p.Floors, p.Oldest, p.Newest}); diff != "" {
		t.Errorf("cutoffs, floors, oldest, newest (-want +got):\n%s", diff)
	}
	if run.Policies[2].Reason == "" || run.Policies[3].Reason == "" {
		t.Errorf("unswept and failed policies carry no reason: %+v", run.Policies[2:])
	}
	tn, _ := f.tenants.GetTenant(t.Context(), "acme")
	runs, err := Runs(tn)
	if err != nil || len(runs) != 1 || runs[0].ID != run.ID || runs[0].Owner != "" {
		t.Errorf("stored runs %+v, %v", runs, err)
	}
	if fin := f.audited("retention.run-finished"); len(fin) != 1 || fin[0].Details["purged"] != "15" ||
		fin[0].Details["keptByHold"] != "3" || fin[0].Details["failedPolicies"] != "1" {
		t.Errorf("audit %+v", f.flushed)
	}
	f.checkTombstones(t)
	if len(tn.PendingAudit) != 0 {
		t.Errorf("audit outbox left: %+v", tn.PendingAudit)
	}
	// A second run finds nothing more to purge and counts what is kept again.
	again, err := f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == run.ID || again.Policies[0].Purged != 0 || again.Policies[1].Purged != 0 {
		t.Errorf("second run %+v", countsOf(again.Policies))
	}
}

func TestRunResumesFromItsCheckpointAfterACrash(t *testing.T) {
	t.Parallel()
	for _, step := range []string{"retention-run-claimed", "retention-page-planned", "retention-page-deleted", "retention-run-finished"} {
		for _, n := range []int{1, 2, 7, 9} {
			if step != "retention-page-planned" && step != "retention-page-deleted" && n > 1 {
				continue
			}
			for _, direct := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s#%d/direct-tombstones=%v", step, n, direct), func(t *testing.T) {
					t.Parallel()
					f := newSweepFixture(t)
					f.directAudit = direct
					func() {
						defer func() {
							if _, ok := recover().(crash); !ok {
								t.Fatal("did not crash")
							}
						}()
						_, _ = f.sweeper(t, crashAt(step, n)).Run(t.Context(), "acme", "a", time.Hour)
					}()
					// Before the lease runs out another invocation skips the tenant.
					if step != "retention-run-finished" {
						if _, err := f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour); !errors.Is(err, ErrRunInProgress) {
							t.Fatalf("second sweep while the lease holds: %v", err)
						}
					}
					f.clock.set(sweepNow.Add(11 * time.Minute))
					run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour)
					if err != nil {
						t.Fatal(err)
					}
					if step == "retention-run-finished" {
						// The first run finished before the crash; this is a new one.
						tn, _ := f.tenants.GetTenant(t.Context(), "acme")
						runs, _ := Runs(tn)
						run = &runs[len(runs)-1]
						// Its audit event, left in the outbox by the crash, went out
						// with the next write's flush (or the hourly watch's).
						finished := f.audited("retention.run-finished")
						if len(tn.PendingAudit) != 0 || len(finished) != 2 || finished[0].ID != "aud_retention_run-1" {
							t.Errorf("the crashed run's audit event: outbox %d, flushed %+v", len(tn.PendingAudit), f.flushed)
						}
					}
					f.check(t, run)
					f.checkTombstones(t)
				})
			}
		}
	}
}

func TestRunStopsAtItsBudgetAndContinues(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.clock.step = time.Second
	s := f.sweeper(t, nil)
	var run *Run
	calls := 0
	for run == nil || !run.Finished() {
		calls++
		if calls > 50 {
			t.Fatal("the run never finished")
		}
		var err error
		if run, err = s.Run(t.Context(), "acme", fmt.Sprintf("inv-%d", calls), 4*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if calls < 3 || run.Invocations != calls {
		t.Errorf("finished in %d calls, %d invocations recorded", calls, run.Invocations)
	}
	// This clock moves a second a reading, so the run started a few seconds
	// after sweepNow and l003 (exactly 30 days old at sweepNow) is past the
	// policy, within the floor: the cutoffs are the run's, fixed at its start.
	if got := countsOf(run.Policies)[0]; got != (counts{"app-logs", "done", 27, 9, 3, 15, 0}) {
		t.Errorf("logs report %+v", got)
	}
	if diff := cmp.Diff(wantCounts[1:], countsOf(run.Policies)[1:]); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLogs, f.items.ids("acme", "logs")); diff != "" {
		t.Errorf("logs left (-want +got):\n%s", diff)
	}
}

func TestHoldPlacedDuringARunIsHonoured(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	placed := false
	step := func(name string) {
		if name == "retention-page-deleted" && !placed {
			placed = true
			f.tenants.change("acme", func(t *privacy.Tenant) {
				t.Holds = append(t.Holds, privacy.Hold{ID: "h2", Scope: privacy.HoldDataCategory, DataCategory: CategoryPayment, Reason: "tax audit"})
			})
		}
	}
	run, err := f.sweeper(t, step).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := countsOf(run.Policies)[1]; got != (counts{"orders", "done", 6, 0, 6, 0, 0}) {
		t.Errorf("orders under a category hold placed mid-run: %+v", got)
	}
	if diff := cmp.Diff([]string{"o00", "o01", "o02", "o03", "o04", "o05", "o06", "o07", "o08", "o09", "o99"}, f.items.ids("acme", "orders")); diff != "" {
		t.Errorf("orders left (-want +got):\n%s", diff)
	}
	tn, _ := f.tenants.GetTenant(t.Context(), "acme")
	if len(tn.Holds) != 2 {
		t.Errorf("the sweep's checkpoint lost the admin's hold: %+v", tn.Holds)
	}
}

func TestOneFailingPolicyDoesNotStopTheOthers(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.items.failOn = "logs"
	run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []counts{{"app-logs", "failed", 0, 0, 0, 0, 0}, wantCounts[1], wantCounts[2], wantCounts[3]}
	if diff := cmp.Diff(want, countsOf(run.Policies)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestPreviewTouchesNothing(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	p, err := f.sweeper(t, nil).Preview(t.Context(), "acme", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Complete {
		t.Error("preview incomplete")
	}
	if diff := cmp.Diff(wantCounts, countsOf(p.Policies)); diff != "" {
		t.Errorf("preview (-want +got):\n%s", diff)
	}
	if f.tenants.writes != 0 || f.items.deletes != 0 || len(f.items.ids("acme", "logs")) != 30 {
		t.Errorf("preview wrote %d tenants, %d deletes, %d logs left", f.tenants.writes, f.items.deletes, len(f.items.ids("acme", "logs")))
	}
	one, err := f.sweeper(t, nil).Preview(t.Context(), "acme", "orders", time.Hour)
	if err != nil || len(one.Policies) != 1 || countsOf(one.Policies)[0] != wantCounts[1] {
		t.Errorf("preview of one policy: %+v, %v", one, err)
	}
	if _, err := f.sweeper(t, nil).Preview(t.Context(), "acme", "nope", time.Hour); err == nil {
		t.Error("preview of an unknown policy succeeded")
	}
	f.clock.step = time.Second
	short, err := f.sweeper(t, nil).Preview(t.Context(), "acme", "", 2*time.Second)
	if err != nil || short.Complete {
		t.Errorf("preview past its budget: complete %v, %v", short.Complete, err)
	}
}

func TestJobRunsEachOccurrenceOnce(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	night := sweepNow.Add(-2 * time.Hour) // the timer's occurrence, 00:00
	s := f.sweeper(t, nil)
	res, err := s.Job(t.Context(), "acme", "a", night, time.Hour)
	if err != nil || res.More || res.Run == nil || !res.Run.Finished() {
		t.Fatalf("first job: %+v, %v", res, err)
	}
	f.check(t, res.Run)
	// The same occurrence again (a redelivery, a second timer): nothing.
	again, err := s.Job(t.Context(), "acme", "b", night, time.Hour)
	if err != nil || again.Run != nil || again.More {
		t.Errorf("duplicate job: %+v, %v", again, err)
	}
	// The next night starts a new run.
	f.clock.set(sweepNow.Add(24 * time.Hour))
	next, err := s.Job(t.Context(), "acme", "c", night.Add(24*time.Hour), time.Hour)
	if err != nil || next.Run == nil || next.Run.ID == res.Run.ID {
		t.Errorf("next night's job: %+v, %v", next, err)
	}
}

func TestJobWaitsForALiveOwnerAndTakesOverADeadOne(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	night := sweepNow.Add(-2 * time.Hour)
	func() {
		defer func() { _ = recover() }()
		_, _ = f.sweeper(t, crashAt("retention-page-deleted", 2)).Job(t.Context(), "acme", "a", night, time.Hour)
	}()
	res, err := f.sweeper(t, nil).Job(t.Context(), "acme", "b", night, time.Hour)
	if err != nil || res.Run != nil || !res.WaitUntil.Equal(sweepNow.Add(10*time.Minute)) {
		t.Fatalf("job while the lease holds: %+v, %v", res, err)
	}
	f.clock.set(res.WaitUntil)
	res, err = f.sweeper(t, nil).Job(t.Context(), "acme", "b", night, time.Hour)
	if err != nil || res.More || res.Run == nil || !res.Run.Finished() || res.Run.Invocations != 2 {
		t.Fatalf("job after the lease: %+v, %v", res, err)
	}
	f.check(t, res.Run)
	// A run left unfinished from an earlier night is finished first, then
	// this night's run starts (More).
	f2 := newSweepFixture(t)
	func() {
		defer func() { _ = recover() }()
		_, _ = f2.sweeper(t, crashAt("retention-page-planned", 3)).Job(t.Context(), "acme", "a", night, time.Hour)
	}()
	f2.clock.set(sweepNow.Add(24 * time.Hour))
	res, err = f2.sweeper(t, nil).Job(t.Context(), "acme", "b", night.Add(24*time.Hour), time.Hour)
	if err != nil || !res.More || !res.Run.Finished() || !res.Run.StartedAt.Equal(sweepNow) {
		t.Fatalf("job resuming last night's run: %+v, %v", res, err)
	}
	f2.check(t, res.Run)
	res, err = f2.sweeper(t, nil).Job(t.Context(), "acme", "b", night.Add(24*time.Hour), time.Hour)
	if err != nil || res.More || !res.Run.StartedAt.Equal(sweepNow.Add(24*time.Hour)) {
		t.Fatalf("tonight's run: %+v, %v", res, err)
	}
}

func TestTwoSweepsStartedAtOnceOneRunsOneSkips(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	night := sweepNow.Add(-2 * time.Hour)
	claimed, second := make(chan struct{}), make(chan JobResult)
	step := func(name string) {
		if name == "retention-run-claimed" {
			close(claimed)
			<-second // hold the run until the other sweep has answered
		}
	}
	first := make(chan JobResult)
	go func() {
		res, err := f.sweeper(t, step).Job(context.Background(), "acme", "a", night, time.Hour)
		if err != nil {
			t.Error(err)
		}
		first <- res
	}()
	<-claimed
	res, err := f.sweeper(t, nil).Job(t.Context(), "acme", "b", night, time.Hour)
	if err != nil || res.Run != nil || res.WaitUntil.IsZero() {
		t.Errorf("the second sweep: %+v, %v; want it to skip and wait for the lease", res, err)
	}
	close(second)
	won := <-first
	if won.Run == nil || !won.Run.Finished() {
		t.Fatalf("the first sweep: %+v", won)
	}
	f.check(t, won.Run)
	tn, _ := f.tenants.GetTenant(t.Context(), "acme")
	if runs, _ := Runs(tn); len(runs) != 1 {
		t.Errorf("%d runs recorded, want 1", len(runs))
	}
}

func TestThrottledDeleteKeepsItsPlace(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.items.throttle = 3
	if _, err := f.sweeper(t, nil).Run(t.Context(), "acme", "a", time.Hour); !errors.Is(err, privacy.ErrUnavailable) {
		t.Fatalf("a throttled delete: %v, want ErrUnavailable returned", err)
	}
	// The failed invocation released its lease: the next one resumes at once.
	run, err := f.sweeper(t, nil).Run(t.Context(), "acme", "b", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, run)
}

func TestRunPausesBeforeItsContextRunsOut(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.clock.step = time.Second
	// A queue lease of 6 s (on the sweep's clock): the budget of an hour is
	// cut to 3 s, and the run pauses with a checkpoint.
	ctx, cancel := context.WithDeadline(t.Context(), sweepNow.Add(6*time.Second))
	defer cancel()
	run, err := f.sweeper(t, nil).Run(ctx, "acme", "a", time.Hour)
	if err != nil || run.Finished() || run.Owner != "" {
		t.Fatalf("run under a short deadline: finished %v, owner %q, %v", run.Finished(), run.Owner, err)
	}
}
