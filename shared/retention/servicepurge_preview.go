package retention

// The dry run of a service's purge (a preview): the same call as the run's,
// with dryRun set, answered with the counts of what the service would purge;
// it deletes nothing and privops records nothing of it (beyond what a
// preview records on a sign-off policy). Only a service that lists
// purge-dry-run is sent one: a service that ignored the flag would delete.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	case svc.Kind == privacy.KindServiceBus:
		notPreviewed("a Service Bus service answers over the inbound queue, later than a preview waits; the run reports its counts")
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
