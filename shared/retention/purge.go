package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Purge retries: a purge that fails transiently is called again with the same
// Idempotency-Key after PurgeRetryBase·2^(attempt-1) (or the service's
// Retry-After, if longer), at most PurgeRetryCap, and the policy fails after
// MaxPurgeAttempts calls.
const (
	MaxPurgeAttempts = 6
	PurgeRetryBase   = 2 * time.Second
	PurgeRetryCap    = 10 * time.Minute
)

// Phases of a service policy (Run.Phase).
const (
	phaseItems   = ""        // the service's own data
	phaseDerived = "derived" // its derived copies: export packages
)

// purgeID names one policy's purge in one run; the service's Idempotency-Key
// is built from it, so every retry of the purge, in whichever invocation,
// carries the same key.
func purgeID(run *Run, pr *PolicyReport) string { return run.ID + "-" + pr.PolicyID }

// purgeCutoff is what a service is asked to purge up to: the earlier of the
// policy's cutoff and the binding floors' (a floor added after the policy
// was saved still wins).
func purgeCutoff(pr *PolicyReport) time.Time {
	if !pr.FloorCutoff.IsZero() && pr.FloorCutoff.Before(pr.Cutoff) {
		return pr.FloorCutoff
	}
	return pr.Cutoff
}

// purgeHold returns the active hold that keeps the whole service's data of
// the policy from a purge: a tenant, service or data-category hold, or a
// subject hold whose email cannot be opened (Deps.HeldEmail: a hold placed
// before holds kept it sealed). Any other subject hold's subject goes on the
// purge's exclusion list, which the service spares.
func (s *Sweeper) purgeHold(t *privacy.Tenant, pr *PolicyReport) *privacy.Hold {
	for i := range t.Holds {
		h := &t.Holds[i]
		if !h.ReleasedAt.IsZero() {
			continue
		}
		if h.Scope == privacy.HoldSubject {
			if s.d.HeldEmail == nil {
				return h
			}
			if _, ok := s.d.HeldEmail(t.ID, h); !ok {
				return h
			}
			continue
		}
		if h.CoversRetention("", pr.Service, pr.Category) {
			return h
		}
	}
	return nil
}

// purgeService carries out a policy at a service through its purge action:
// one signed call with the cutoff and the category, answered with counts. The
// attempt is checkpointed before the call; a crash, a pause or a transient
// failure leads to the same call again (same Idempotency-Key), whose counts
// are taken once, when it answers. It returns when to call again after a
// transient failure (zero otherwise).
func (s *Sweeper) purgeService(ctx context.Context, t *privacy.Tenant, st State, owner string, svc *privacy.Service, log *slog.Logger) (*privacy.Tenant, time.Time, error) {
	run := st.Current
	pr := &run.Policies[run.Policy]
	now := s.d.Now().UTC()
	if now.Before(pr.RetryAt) {
		return t, pr.RetryAt, nil
	}
	if s.keptWhole(t, pr) {
		s.nextPhase(run)
		return t, time.Time{}, nil
	}
	purger := s.d.Purgers[svc.Kind]
	switch {
	case !svc.Supports(privacy.ActionPurge):
		pr.Status, pr.Reason = "not-supported", "the service does not list the purge action"
		s.nextPhase(run)
		return t, time.Time{}, nil
	case purger == nil:
		pr.Status, pr.Reason = "failed", "this host cannot call a service's purge"
		s.nextPhase(run)
		return t, time.Time{}, nil
	}
	pr.Status, pr.RetryAt = "running", time.Time{}
	pr.Attempts++
	var err error
	if t, err = s.write(ctx, t, st, owner); err != nil {
		return t, time.Time{}, err
	}
	s.d.Step("retention-purge-planned")
	x, err := s.exclusions(t)
	if err != nil {
		return t, time.Time{}, err
	}
	pr.Excluded = exclusionCount(x)
	res, err := purger.Purge(ctx, svc, privacy.PurgeCall{TenantID: t.ID, PurgeID: purgeID(run, pr), PolicyID: pr.PolicyID,
		Category: pr.Category, From: pr.From, Cutoff: purgeCutoff(pr), AllowPrivate: t.AllowPrivateConnectors, RunID: run.ID,
		Exclusions: x})
	switch {
	case err == nil && res.NotSupported:
		pr.Status, pr.Reason = "not-supported", "the service answered that it has no purge"
	case err == nil:
		pr.Status, pr.Reason = "done", ""
		pr.Scanned += res.Purged + res.Kept + res.KeptByHold
		pr.Purged += res.Purged
		pr.KeptByService += res.Kept
		pr.KeptByHold += res.KeptByHold
		s.d.Step("retention-purge-answered")
		log.Info("retention purge answered", "policy", pr.PolicyID, "purged", res.Purged, "kept_by_service", res.Kept,
			"kept_by_hold", res.KeptByHold, "excluded", pr.Excluded)
	case errors.Is(err, privacy.ErrUnavailable) && ctx.Err() != nil:
		// The invocation is ending: keep the place (the checkpoint names the
		// attempt); the redelivered job calls again with the same key.
		return t, time.Time{}, fmt.Errorf("retention purge: %w", err)
	case errors.Is(err, privacy.ErrUnavailable) && pr.Attempts < MaxPurgeAttempts:
		pr.RetryAt = now.Add(purgeBackoff(pr.Attempts, err))
		log.Warn("retention purge failed; will be called again", "policy", pr.PolicyID, "attempt", pr.Attempts, "retry_at", pr.RetryAt, "error", err.Error())
		return t, pr.RetryAt, nil
	default:
		pr.Status, pr.Reason = "failed", fmt.Sprintf("the service's purge failed after %d calls: %v", pr.Attempts, err)
		log.Warn("retention purge failed", "policy", pr.PolicyID, "attempts", pr.Attempts, "error", err.Error())
	}
	s.nextPhase(run)
	return t, time.Time{}, nil
}

// purgeBackoff is the wait before the next call of a purge after attempt
// calls: exponential from PurgeRetryBase, at least the service's Retry-After,
// at most PurgeRetryCap.
func purgeBackoff(attempt int, err error) time.Duration {
	d := PurgeRetryBase << min(attempt-1, 20)
	var ra interface{ RetryDelay() time.Duration }
	if errors.As(err, &ra) {
		d = max(d, ra.RetryDelay())
	}
	return min(d, PurgeRetryCap)
}

// nextPhase ends the current phase of the run's policy: a service policy's
// own data is followed by its derived copies (where the sweep can reach
// export packages); anything else moves on to the next policy.
func (s *Sweeper) nextPhase(run *Run) {
	pr := &run.Policies[run.Policy]
	if run.Phase == phaseItems && pr.Scope == ScopeService && s.d.Requests != nil && s.d.Blobs != nil {
		run.Phase, run.Cursor = phaseDerived, ""
		return
	}
	run.Policy, run.Phase, run.Cursor = run.Policy+1, phaseItems, ""
}

// WaitUntil is when the run's next step may be taken: a purge to call again
// after a transient failure, or, once every policy had its turn, the
// earliest deadline of the Service Bus answers it still waits for. Zero
// when it may go on now.
func (r *Run) WaitUntil(now time.Time) time.Time {
	if r.Finished() {
		return time.Time{}
	}
	if r.Policy >= len(r.Policies) {
		return r.answerWait()
	}
	if at := r.Policies[r.Policy].RetryAt; now.Before(at) {
		return at
	}
	return time.Time{}
}
