package retention

// The dry run of a service's purge (a preview): the same call or command as
// the run's, with dryRun set, answered with the counts of what the service
// would purge; it deletes nothing, and the preview writes nothing of it
// (beyond what a preview records on a sign-off policy; a Service Bus
// service's answer is recorded by the inbound queue, see below). Only a
// service that lists purge-dry-run is sent one: a service that ignored the
// flag would delete.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// previewPurge fills pr with the service's dry run: its counts (done), or
// why there are none (not-previewed, not-supported, kept-by-hold) as the
// run would report them. It never leaves pr "pending".
func (s *Sweeper) previewPurge(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, start time.Time, budget time.Duration) {
	notPreviewed := func(reason string) { pr.Status, pr.Reason = "not-previewed", reason }
	purger := s.d.Purgers[svc.Kind]
	switch {
	case s.keptWhole(t, pr):
		return // kept-by-hold, as the run would report it: no call
	case !svc.Supports(privacy.ActionPurge):
		pr.Status, pr.Reason = "not-supported", "the service does not list the purge action"
		return
	case !svc.Supports(privacy.ActionPurgeDryRun):
		notPreviewed("the service does not list purge-dry-run: a preview sends a dry run only to a service that honours it")
		return
	case purger == nil:
		notPreviewed("this host cannot call a service's purge")
		return
	}
	left := budget - s.d.Now().Sub(start)
	if left <= 0 {
		notPreviewed("the preview's time ran out before the service's dry run")
		return
	}
	x, err := s.exclusions(t)
	if err != nil {
		notPreviewed("the exclusion list could not be built")
		return
	}
	pr.Excluded = exclusionCount(x)
	if svc.Kind == privacy.KindServiceBus {
		// Half the time left: the rest of the preview needs some too.
		s.previewServiceBus(ctx, t, pr, svc, purger, x, left/2)
		return
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "preview_" + hex.EncodeToString(b[:])
	cctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	// A fresh purge id per preview: its Idempotency-Key is never a run's.
	res, err := purger.Purge(cctx, svc, privacy.PurgeCall{TenantID: t.ID, PurgeID: id + "-" + pr.PolicyID, RunID: id, PolicyID: pr.PolicyID,
		Category: pr.Category, From: pr.From, Cutoff: purgeCutoff(pr), AllowPrivate: t.AllowPrivateConnectors, DryRun: true, Exclusions: x})
	switch {
	case err == nil && res.NotSupported:
		notPreviewed("the service answered that it has no dry run of its purge (404, 405 or 501)")
	case err == nil:
		pr.Status, pr.Reason = "done", ""
		pr.Scanned += res.Purged + res.Kept + res.KeptByHold
		pr.Purged += res.Purged
		pr.KeptByService += res.Kept
		pr.KeptByHold += res.KeptByHold
	case errors.Is(err, privacy.ErrUnavailable):
		notPreviewed("the service's dry run failed for now: " + err.Error())
	default:
		notPreviewed("the service's dry run failed: " + err.Error())
	}
}

// A Service Bus service's dry run answers over the inbound queue: the
// preview sends the command, then waits, within its own time, for the answer
// the inbound queue records (RecordPurgeAnswer with DryRun). The preview id
// carries its deadline ("preview_<unix>_<random>"), so an answer that comes
// after the preview stopped waiting is refused without the preview having
// written anything. The answers are kept in the tenant's retention state
// (member "previews", at most maxPreviewAnswers, dropped once their preview's
// deadline passed), beside the runs and never written by the sweep.

// PreviewAnswer is a Service Bus service's answer to a dry run: counts.
type PreviewAnswer struct {
	ID           string    `json:"id"` // the inbound message
	RunID        string    `json:"runId"`
	PolicyID     string    `json:"policyId"`
	At           time.Time `json:"at"`
	NotSupported bool      `json:"notSupported,omitempty"`
	Purged       int64     `json:"purged"`
	Kept         int64     `json:"kept"`
	KeptByHold   int64     `json:"keptByHold"`
}

const (
	maxPreviewAnswers = 50
	// previewPoll is how often a preview looks for its dry run's answer.
	previewPoll = 500 * time.Millisecond
)

// previewID names a Service Bus dry run that is waited for until deadline.
func previewID(deadline time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "preview_" + strconv.FormatInt(deadline.Unix(), 10) + "_" + hex.EncodeToString(b[:])
}

// previewDeadline reads the deadline a preview id carries.
func previewDeadline(id string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(id, "preview_")
	unix, _, ok2 := strings.Cut(rest, "_")
	n, err := strconv.ParseInt(unix, 10, 64)
	if !ok || !ok2 || err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// previewAnswers reads the stored answers of a tenant's retention state.
func previewAnswers(raw json.RawMessage) []PreviewAnswer {
	var v struct {
		Previews []PreviewAnswer `json:"previews"`
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &v)
	}
	return v.Previews
}

// withPreviewAnswers returns raw with its "previews" member set to as.
func withPreviewAnswers(raw json.RawMessage, as []PreviewAnswer) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("decode retention state: %w", err)
		}
	}
	delete(m, "previews")
	if len(as) > 0 {
		b, err := json.Marshal(as)
		if err != nil {
			return nil, err
		}
		m["previews"] = b
	}
	return json.Marshal(m)
}

// carryPreviews returns encoded (a State) with the "previews" member of
// stored, as it is: the sweep never changes them.
func carryPreviews(stored, encoded json.RawMessage) (json.RawMessage, error) {
	as := previewAnswers(stored)
	if len(as) == 0 {
		return encoded, nil
	}
	return withPreviewAnswers(encoded, as)
}

// previewServiceBus sends the dry-run command and waits, until left has
// passed, for its answer.
func (s *Sweeper) previewServiceBus(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, purger privacy.Purger, x *privacy.PurgeExclusions, left time.Duration) {
	deadline := s.d.Now().UTC().Add(left).Truncate(time.Second)
	if deadline.Sub(s.d.Now()) < 2*time.Second {
		pr.Status, pr.Reason = "not-previewed", "the preview's time ran out before the service's dry run"
		return
	}
	id := previewID(deadline)
	if _, err := purger.Purge(ctx, svc, privacy.PurgeCall{TenantID: t.ID, PurgeID: id + "-" + pr.PolicyID, RunID: id, PolicyID: pr.PolicyID,
		Category: pr.Category, From: pr.From, Cutoff: purgeCutoff(pr), DryRun: true, AnswerBy: deadline, Exclusions: x,
		SigningKeys: svc.Secrets}); err != nil {
		pr.Status, pr.Reason = "not-previewed", "the dry-run command could not be sent: "+err.Error()
		return
	}
	for s.d.Now().Before(deadline) && ctx.Err() == nil {
		s.d.Sleep(ctx, min(previewPoll, deadline.Sub(s.d.Now())))
		fresh, err := s.d.Tenants.GetTenant(ctx, t.ID)
		if err != nil {
			continue
		}
		for _, a := range previewAnswers(fresh.Retention) {
			if a.RunID != id || a.PolicyID != pr.PolicyID {
				continue
			}
			if a.NotSupported {
				pr.Status, pr.Reason = "not-previewed", "the service answered that it has no dry run of its purge (not-supported)"
				return
			}
			pr.Status, pr.Reason = "done", ""
			pr.Scanned += a.Purged + a.Kept + a.KeptByHold
			pr.Purged += a.Purged
			pr.KeptByService += a.Kept
			pr.KeptByHold += a.KeptByHold
			return
		}
	}
	pr.Status, pr.Reason = "not-previewed", "the service sent no answer to the dry run within the preview's time"
}

// recordPreviewAnswer keeps a Service Bus service's answer to a dry run for
// the preview that waits for it. Refused, changing nothing: unknown-purge
// (not a preview's id, no such policy on a Service Bus service),
// purge-not-awaited (the preview stopped waiting), purge-answered (another
// answer was kept). The same answer again is a no-op.
func (s *Sweeper) recordPreviewAnswer(ctx context.Context, tenantID string, a PurgeAnswer) error {
	deadline, ok := previewDeadline(a.RunID)
	if !ok {
		return privacy.Errorf(privacy.KindNotFound, "unknown-purge", "a dry run's answer names a preview (runId preview_…)")
	}
	now := s.d.Now().UTC()
	if now.After(deadline) {
		return errPurgeNotAwaited("the preview stopped waiting for it")
	}
	for attempt := 0; ; attempt++ {
		t, err := s.d.Tenants.GetTenant(ctx, tenantID)
		if err != nil {
			return fmt.Errorf("retention answer: get tenant: %w", err)
		}
		p := t.RetentionPolicy(a.PolicyID)
		if p == nil || p.Scope != ScopeService || t.Service(p.Service) == nil || t.Service(p.Service).Kind != privacy.KindServiceBus {
			return errUnknownPurge
		}
		var kept []PreviewAnswer
		for _, o := range previewAnswers(t.Retention) {
			switch {
			case o.ID == a.ID:
				return nil
			case o.RunID == a.RunID && o.PolicyID == a.PolicyID:
				return errPurgeAnswered
			}
			if d, ok := previewDeadline(o.RunID); ok && !now.After(d) {
				kept = append(kept, o)
			}
		}
		kept = append(kept, PreviewAnswer{ID: a.ID, RunID: a.RunID, PolicyID: a.PolicyID, At: now, NotSupported: a.NotSupported,
			Purged: a.Purged, Kept: a.Kept, KeptByHold: a.KeptByHold})
		if len(kept) > maxPreviewAnswers {
			kept = kept[len(kept)-maxPreviewAnswers:]
		}
		if t.Retention, err = withPreviewAnswers(t.Retention, kept); err != nil {
			return err
		}
		err = s.d.Tenants.UpdateTenant(ctx, t)
		if errors.Is(err, privacy.ErrConflict) && attempt < 9 {
			continue
		}
		if err != nil {
			return fmt.Errorf("retention answer: %w", err)
		}
		s.d.Logger.Info("retention dry-run answered", "tenant_id", tenantID, "policy", a.PolicyID, "purged", a.Purged)
		return nil
	}
}
