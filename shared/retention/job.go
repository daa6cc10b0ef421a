package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// EventSweep is the message of a tenant's retention job (the retention queue):
// sweep tenant tenantid for the scheduled occurrence in its data. Ids only.
const EventSweep = "io.privops.retention.sweep.v1"

// SweepData is the data of an EventSweep.
type SweepData struct {
	// Due is the timer occurrence the job belongs to: one run per tenant per
	// occurrence, however often its message is delivered.
	Due time.Time `json:"due"`
}

// JobResult says what a job invocation leaves to do.
type JobResult struct {
	Run *Run // the run as last written (nil when there was nothing to do)
	// More: the run (or this occurrence's run) is not finished; enqueue the
	// job again to continue from the checkpoint.
	More bool
	// WaitUntil, when set, is when another invocation's lease on the tenant's
	// run runs out, or when a service's purge is to be called again: check
	// again then (the run goes on, or is taken over from an owner that died).
	WaitUntil time.Time
}

// Job runs one invocation of the tenant's job for occurrence due, as owner,
// within budget: it does nothing when this occurrence's run already started
// (a duplicate delivery, a second timer), resumes an unfinished run (of this
// occurrence or an older one), or starts this occurrence's run. Safe to run
// twice or concurrently: the run's lease lets one owner sweep, the others
// learn when to look again.
func (s *Sweeper) Job(ctx context.Context, tenantID, owner string, due time.Time, budget time.Duration) (JobResult, error) {
	t, err := s.d.Tenants.GetTenant(ctx, tenantID)
	if err != nil {
		return JobResult{}, fmt.Errorf("retention job: get tenant: %w", err)
	}
	st, err := decodeState(t)
	if err != nil {
		return JobResult{}, err
	}
	if st.Current == nil && (len(t.RetentionPolicies) == 0 || len(st.Recent) > 0 && !st.Recent[0].StartedAt.Before(due)) {
		return JobResult{}, nil
	}
	run, err := s.Run(ctx, tenantID, owner, budget)
	if errors.Is(err, ErrRunInProgress) {
		wait := s.d.Now().UTC().Add(s.cfg.Lease)
		if t, err := s.d.Tenants.GetTenant(ctx, tenantID); err == nil {
			if st, err := decodeState(t); err == nil && st.Current != nil {
				wait = st.Current.LeaseUntil
			}
		}
		return JobResult{WaitUntil: wait}, nil
	}
	if err != nil {
		return JobResult{Run: run}, err
	}
	if wait := run.WaitUntil(s.d.Now()); !wait.IsZero() {
		// A purge is called again then (a service's transient failure).
		return JobResult{Run: run, WaitUntil: wait}, nil
	}
	more := !run.Finished() || run.StartedAt.Before(due)
	return JobResult{Run: run, More: more}, nil
}

// LastStarted returns when the tenant's latest run started (zero if none).
func LastStarted(t *privacy.Tenant) time.Time {
	st, err := decodeState(t)
	if err != nil {
		return time.Time{}
	}
	if st.Current != nil {
		return st.Current.StartedAt
	}
	if len(st.Recent) > 0 {
		return st.Recent[0].StartedAt
	}
	return time.Time{}
}
