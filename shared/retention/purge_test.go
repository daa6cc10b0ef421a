package retention

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// fakePurger is a service's purge: it answers each purge id once with its
// counts and repeats them for the same id (as the contract asks of the
// Idempotency-Key), after failing the first fail calls transiently.
type fakePurger struct {
	mu       sync.Mutex
	calls    []privacy.PurgeCall
	fail     int
	notFound bool
	answered map[string]privacy.PurgeResult
	purged   int64 // what the service really deleted, over all calls
}

type retryAfterErr struct{ d time.Duration }

func (e retryAfterErr) Error() string             { return "service answered 503" }
func (e retryAfterErr) Unwrap() error             { return privacy.ErrUnavailable }
func (e retryAfterErr) RetryDelay() time.Duration { return e.d }
func (f *fakePurger) callsMade() []privacy.PurgeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakePurger) Purge(_ context.Context, _ *privacy.Service, c privacy.PurgeCall) (privacy.PurgeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	if f.notFound {
		return privacy.PurgeResult{NotSupported: true}, nil
	}
	if len(f.calls) <= f.fail {
		return privacy.PurgeResult{}, retryAfterErr{30 * time.Second}
	}
	if r, ok := f.answered[c.PurgeID]; ok {
		return r, nil
	}
	if f.answered == nil {
		f.answered = map[string]privacy.PurgeResult{}
	}
	r := privacy.PurgeResult{Purged: 40, Kept: 2}
	f.answered[c.PurgeID] = r
	if !c.DryRun {
		f.purged += r.Purged
	}
	return r, nil
}

// purgeFixture: acme (under PIPL) with a webhook service "crm" that supports
// purge and one "legacy" that does not, a 400-day customer policy on each and
// a 30-day system-logs policy on crm (below the 6-month floor saved before it
// bound: the call's cutoff is the floor's).
func purgeFixture(tb testing.TB, edit func(*privacy.Tenant)) (*sweepFixture, *fakePurger, *Sweeper) {
	tb.Helper()
	f := newSweepFixture(tb)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.Holds = nil
		t.Services = []privacy.Service{
			{ID: "crm", Kind: privacy.KindWebhook, URL: "https://crm.example", Actions: []privacy.Action{privacy.ActionErase, privacy.ActionPurge}},
			{ID: "legacy", Kind: privacy.KindWebhook, URL: "https://legacy.example", Actions: []privacy.Action{privacy.ActionErase}},
		}
		t.RetentionPolicies = []Policy{
			{ID: "crm-customers", Category: CategoryCustomer, Scope: ScopeService, Service: "crm", MaxAgeDays: 400, From: FromLastModified, Action: ActionDelete},
			{ID: "legacy-customers", Category: CategoryCustomer, Scope: ScopeService, Service: "legacy", MaxAgeDays: 400, From: FromCreated, Action: ActionDelete},
			{ID: "crm-logs", Category: CategorySystemLogs, Scope: ScopeService, Service: "crm", MaxAgeDays: 30, From: FromCreated, Action: ActionDelete},
		}
		if edit != nil {
			edit(t)
		}
	})
	p := &fakePurger{}
	s := f.sweeper(tb, nil)
	s.d.Purgers = map[privacy.ConnectorKind]privacy.Purger{privacy.KindWebhook: p}
	return f, p, s
}

type purgeCounts struct {
	Policy, Status                 string
	Scanned, Purged, KeptByService int64
}

func purgeCountsOf(rs []PolicyReport) []purgeCounts {
	var out []purgeCounts
	for _, r := range rs {
		out = append(out, purgeCounts{r.PolicyID, r.Status, r.Scanned, r.Purged, r.KeptByService})
	}
	return out
}

// TestServicePurgeCountsLandInTheReport: a webhook service's purge is called
// once per policy with the category, the event and the cutoff (the floor's
// where it is earlier), and its counts are the policy's report; a service
// that does not list purge is reported not-supported, not failed, and the
// run goes on.
func TestServicePurgeCountsLandInTheReport(t *testing.T) {
	t.Parallel()
	f, p, s := purgeFixture(t, nil)
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	want := []purgeCounts{
		{"crm-customers", "done", 42, 40, 2},
		{"legacy-customers", "not-supported", 0, 0, 0},
		{"crm-logs", "done", 42, 40, 2},
	}
	if diff := cmp.Diff(want, purgeCountsOf(run.Policies)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if run.Policies[1].Reason == "" {
		t.Error("the not-supported policy carries no reason")
	}
	wantCalls := []privacy.PurgeCall{
		{TenantID: "acme", RunID: run.ID, PurgeID: run.ID + "-crm-customers", PolicyID: "crm-customers", Category: CategoryCustomer, From: FromLastModified, Cutoff: sweepNow.AddDate(0, 0, -400)},
		{TenantID: "acme", RunID: run.ID, PurgeID: run.ID + "-crm-logs", PolicyID: "crm-logs", Category: CategorySystemLogs, From: FromCreated, Cutoff: time.Date(2029, 12, 30, 2, 0, 0, 0, time.UTC)},
	}
	if diff := cmp.Diff(wantCalls, p.callsMade()); diff != "" {
		t.Errorf("purge calls (-want +got):\n%s", diff)
	}
	if len(f.flushed) != 1 || f.flushed[0].Details["purged"] != "80" {
		t.Errorf("audit %+v", f.flushed)
	}
}

// TestServicePurgeNotSupportedAnswer: a service listing purge but answering
// 404/501 (NotSupported) is reported not-supported.
func TestServicePurgeNotSupportedAnswer(t *testing.T) {
	t.Parallel()
	_, p, s := purgeFixture(t, nil)
	p.notFound = true
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{run.Policies[0].Status, run.Policies[2].Status}; !slices.Equal(got, []string{"not-supported", "not-supported"}) {
		t.Errorf("statuses %v", got)
	}
}

// TestServicePurgeIsRetriedWithTheSameKey: transient failures are retried
// with backoff (the service's Retry-After honoured) with the same purge id,
// within the invocation when the wait fits its budget; the counts land once.
func TestServicePurgeIsRetriedWithTheSameKey(t *testing.T) {
	t.Parallel()
	f, p, s := purgeFixture(t, func(t *privacy.Tenant) { t.RetentionPolicies = t.RetentionPolicies[:1] })
	p.fail = 2
	var slept []time.Duration
	s.d.Sleep = func(_ context.Context, d time.Duration) { slept = append(slept, d); f.clock.set(f.clock.Now().Add(d)) }
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	var ids []string
	for _, c := range p.callsMade() {
		ids = append(ids, c.PurgeID)
	}
	if diff := cmp.Diff([]string{run.ID + "-crm-customers", run.ID + "-crm-customers", run.ID + "-crm-customers"}, ids); diff != "" {
		t.Errorf("purge ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Second, 30 * time.Second}, slept); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]purgeCounts{{"crm-customers", "done", 42, 40, 2}}, purgeCountsOf(run.Policies)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if run.Policies[0].Attempts != 3 {
		t.Errorf("attempts %d, want 3", run.Policies[0].Attempts)
	}
}

// TestServicePurgeRetryOutlastingTheBudgetPausesTheRun: a wait longer than
// the invocation's budget pauses the run (lease released); the job asks to
// be called again then, and the next invocation calls with the same key.
func TestServicePurgeRetryOutlastingTheBudgetPausesTheRun(t *testing.T) {
	t.Parallel()
	f, p, s := purgeFixture(t, func(t *privacy.Tenant) { t.RetentionPolicies = t.RetentionPolicies[:1] })
	p.fail = 1
	res, err := s.Job(t.Context(), "acme", "a", sweepNow, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.More || !res.WaitUntil.Equal(sweepNow.Add(30*time.Second)) || res.Run.Finished() || res.Run.Owner != "" {
		t.Fatalf("job result %+v (run %+v)", res, res.Run)
	}
	f.clock.set(sweepNow.Add(31 * time.Second))
	res, err = s.Job(t.Context(), "acme", "b", sweepNow, 10*time.Second)
	if err != nil || !res.Run.Finished() {
		t.Fatalf("second invocation %+v, %v", res, err)
	}
	calls := p.callsMade()
	if len(calls) != 2 || calls[0].PurgeID != calls[1].PurgeID {
		t.Errorf("calls %+v: want two with the same purge id", calls)
	}
	if diff := cmp.Diff([]purgeCounts{{"crm-customers", "done", 42, 40, 2}}, purgeCountsOf(res.Run.Policies)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// TestServicePurgeFailsAfterItsAttempts: a purge that keeps failing
// transiently fails the policy after MaxPurgeAttempts calls; the others run.
func TestServicePurgeFailsAfterItsAttempts(t *testing.T) {
	t.Parallel()
	f, p, s := purgeFixture(t, nil)
	p.fail = 1000
	s.d.Sleep = func(_ context.Context, d time.Duration) { f.clock.set(f.clock.Now().Add(d)) }
	run, err := s.Run(t.Context(), "acme", "a", 24*time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	if n := len(p.callsMade()); n != 2*MaxPurgeAttempts {
		t.Errorf("%d calls, want %d per supporting policy", n, MaxPurgeAttempts)
	}
	for _, i := range []int{0, 2} {
		if pr := run.Policies[i]; pr.Status != "failed" || pr.Reason == "" || pr.Purged != 0 {
			t.Errorf("policy %s: %+v", pr.PolicyID, pr)
		}
	}
}

// TestServicePurgeAfterACrashCountsOnce: a crash after the attempt was
// checkpointed, with the call made, resumes with the same call (same key);
// the service answers its counts again and they are counted once.
func TestServicePurgeAfterACrashCountsOnce(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"retention-purge-planned", "retention-purge-answered"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			_, p, s := purgeFixture(t, func(t *privacy.Tenant) { t.RetentionPolicies = t.RetentionPolicies[:1] })
			s.d.Step = crashAt(point, 1)
			func() {
				defer func() {
					if _, ok := recover().(crash); !ok {
						t.Fatal("no crash")
					}
				}()
				_, _ = s.Run(t.Context(), "acme", "a", time.Hour)
			}()
			s.d.Step = func(string) {}
			s.cfg.Lease = 0
			run, err := s.Run(t.Context(), "acme", "a", time.Hour) // the same owner resumes at once
			if err != nil || !run.Finished() {
				t.Fatalf("resumed run %+v, %v", run, err)
			}
			if diff := cmp.Diff([]purgeCounts{{"crm-customers", "done", 42, 40, 2}}, purgeCountsOf(run.Policies)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			calls := p.callsMade()
			if n := len(calls); n < 1 || n > 2 || calls[0].PurgeID != calls[n-1].PurgeID || p.purged != 40 {
				t.Errorf("calls %+v, purged %d", calls, p.purged)
			}
		})
	}
}

// TestServicePurgeHolds: a tenant, service or data-category hold keeps the
// service's data, and so does any subject hold (a purge cannot spare one
// subject): no call, reported kept-by-hold with the reason.
func TestServicePurgeHolds(t *testing.T) {
	t.Parallel()
	for _, h := range []privacy.Hold{
		{ID: "h", Scope: privacy.HoldTenant},
		{ID: "h", Scope: privacy.HoldService, Service: "crm"},
		{ID: "h", Scope: privacy.HoldDataCategory, DataCategory: CategoryCustomer},
		{ID: "h", Scope: privacy.HoldSubject, SubjectHash: "h:ada@example.com"},
	} {
		t.Run(string(h.Scope), func(t *testing.T) {
			t.Parallel()
			_, p, s := purgeFixture(t, func(t *privacy.Tenant) {
				t.RetentionPolicies = t.RetentionPolicies[:1]
				t.Holds = []privacy.Hold{h}
			})
			run, err := s.Run(t.Context(), "acme", "a", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if pr := run.Policies[0]; pr.Status != "kept-by-hold" || pr.Reason == "" {
				t.Errorf("report %+v", pr)
			}
			if n := len(p.callsMade()); n != 0 {
				t.Errorf("%d purge calls under a hold", n)
			}
		})
	}
	// A released hold keeps nothing.
	_, p, s := purgeFixture(t, func(t *privacy.Tenant) {
		t.RetentionPolicies = t.RetentionPolicies[:1]
		t.Holds = []privacy.Hold{{ID: "h", Scope: privacy.HoldTenant, ReleasedAt: sweepNow.AddDate(0, 0, -1)}}
	})
	if run, err := s.Run(t.Context(), "acme", "a", time.Hour); err != nil || run.Policies[0].Status != "done" || len(p.callsMade()) != 1 {
		t.Errorf("under a released hold: %+v, %v", run, err)
	}
}

// TestPreviewSendsNoDryRunUnlessListed: a preview sends a service a dry run
// of its purge only if the service lists purge-dry-run (one that ignored
// the flag would delete); the others are reported not-previewed (or
// not-supported, as the run would), with the reason.
func TestPreviewSendsNoDryRunUnlessListed(t *testing.T) {
	t.Parallel()
	_, p, s := purgeFixture(t, nil)
	pv, err := s.Preview(t.Context(), "acme", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pr := range pv.Policies {
		got = append(got, pr.Status)
		if pr.Reason == "" {
			t.Errorf("%s: no reason", pr.PolicyID)
		}
	}
	if diff := cmp.Diff([]string{"not-previewed", "not-supported", "not-previewed"}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := len(p.callsMade()); n != 0 {
		t.Errorf("the preview made %d purge calls", n)
	}
}

// TestDerivedCopiesGoInTheSameSweep: export packages holding a copy of a
// service's data past the service's policy are removed in the policy's sweep
// (blob and the tasks' export files first, then the record), except where a
// hold keeps them, their link still works, they are younger, or they hold no
// export of that service.
func TestDerivedCopiesGoInTheSameSweep(t *testing.T) {
	t.Parallel()
	f, _, s := purgeFixture(t, func(t *privacy.Tenant) {
		t.RetentionPolicies = t.RetentionPolicies[:1]
		t.Holds = []privacy.Hold{{ID: "h9", Scope: privacy.HoldSubject, SubjectHash: "held-subject"}}
		// The subject hold keeps the service's own purge back (tested above);
		// its derived copies are decided one by one.
	})
	_ = f
	reqs := &fakeRequests{docs: map[string][]byte{}, tags: map[string]int{}}
	blobs := &fakeBlobs{}
	s.d.Requests, s.d.Blobs = reqs, blobs
	s.cfg.PageSize = 2
	mk := func(id string, ageDays, linkDays int, service, subject string) {
		c := sweepNow.AddDate(0, 0, -ageDays)
		reqs.add(&privacy.Request{ID: id, TenantID: "acme", SubjectHash: subject,
			Tasks: []privacy.Task{
				{ID: id + "-x", Service: service, Action: privacy.ActionExport, Status: privacy.TaskDone, Blob: "acme/" + id + "/" + service + ".json"},
				{ID: id + "-y", Service: "other", Action: privacy.ActionExport, Status: privacy.TaskDone, Blob: "acme/" + id + "/other.json"},
			},
			Package: &privacy.Package{Blob: "acme/" + id + ".zip", CreatedAt: c, ExpiresAt: c.AddDate(0, 0, linkDays)}})
	}
	mk("d1", 500, 7, "crm", "s1")           // past the policy: removed
	mk("d2", 500, 7, "crm", "held-subject") // held
	mk("d3", 100, 7, "crm", "s3")           // younger than 400 days
	mk("d4", 500, 7, "elsewhere", "s4")     // no export of crm
	mk("d5", 500, 1000, "crm", "s5")        // its link still works
	mk("d6", 401, 7, "crm", "s6")           // past the policy: removed
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	pr := run.Policies[0]
	if pr.Status != "kept-by-hold" || pr.Derived != 2 {
		t.Errorf("report: status %s, derived %d; want kept-by-hold (the service), 2 derived copies removed", pr.Status, pr.Derived)
	}
	slices.Sort(blobs.deleted)
	want := []string{"acme/d1.zip", "acme/d1/crm.json", "acme/d1/other.json", "acme/d6.zip", "acme/d6/crm.json", "acme/d6/other.json"}
	if diff := cmp.Diff(want, blobs.deleted); diff != "" {
		t.Errorf("blobs deleted (-want +got):\n%s", diff)
	}
	var removed []string
	for _, id := range reqs.list {
		if r := reqs.get(id); !r.Package.RemovedAt.IsZero() {
			removed = append(removed, id)
		}
	}
	if diff := cmp.Diff([]string{"d1", "d6"}, removed); diff != "" {
		t.Errorf("packages removed (-want +got):\n%s", diff)
	}
	pv, err := s.Preview(t.Context(), "acme", "", time.Minute)
	if err != nil || pv.Policies[0].Derived != 0 {
		t.Errorf("a preview after the sweep: %+v, %v", pv, err)
	}
	_ = fmt.Sprint
}
