package retention

import (
	"context"
	"log/slog"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// DeadLetters removes the bodies of dead-lettered messages past their keep:
// the built-in queue empties them and keeps each row as evidence (SQLite),
// Service Bus completes them from the queue's $deadletterqueue (nothing
// stays). PurgeDeadLetterBodies removes those of queue enqueued before
// before and returns how many; repeating it counts nothing twice.
type DeadLetters interface {
	PurgeDeadLetterBodies(ctx context.Context, queue string, before time.Time) (int, error)
}

// DeadLetterConfig is the dead-letter step's part of Config.
type DeadLetterConfig struct {
	Keep   time.Duration // DEADLETTER_KEEP
	Queues []string      // every queue the app uses
	// InboundQueue's dead letters are rejected or unhandled inbound bodies:
	// their keep is also at most InboundKeep (INBOUND_KEEP_REJECTED) and the
	// shortest rejected-inbound policy of a tenant without a hold on them.
	InboundQueue string
	InboundKeep  time.Duration
}

// deadLetterKeep returns the keep of queue's dead letters at this run.
func deadLetterKeep(c DeadLetterConfig, queue string, tenants []*privacy.Tenant) time.Duration {
	keep := c.Keep
	if queue != c.InboundQueue {
		return keep
	}
	if c.InboundKeep > 0 {
		keep = min(keep, c.InboundKeep)
	}
	for _, t := range tenants {
		// A dead letter's tenant is not known without parsing its body (it
		// may be unsigned or malformed): a tenant's own policy shortens the
		// keep of every inbound dead letter, unless the tenant has an active
		// hold that a rejected inbound body could fall under (as the
		// rejected-inbound sweep of the ledger keeps bodies then).
		if hasInboundHold(t) {
			continue
		}
		for _, p := range t.RetentionPolicies {
			if p.Category == retention.CategoryRejectedInbound && p.MaxAgeDays > 0 {
				keep = min(keep, time.Duration(p.MaxAgeDays)*24*time.Hour)
			}
		}
	}
	return keep
}

func hasInboundHold(t *privacy.Tenant) bool {
	for _, h := range t.Holds {
		if !h.ReleasedAt.IsZero() {
			continue
		}
		if h.Scope == privacy.HoldTenant || h.Scope == privacy.HoldSubject ||
			h.Scope == privacy.HoldDataCategory && h.DataCategory == retention.CategoryRejectedInbound {
			return true
		}
	}
	return false
}

// sweepDeadLetters is the timer's dead-letter step: per queue, the bodies
// past their keep are removed; the log carries the queue, its keep and the
// count, never an id or a body. A failing queue is logged and the others go
// on; the next night tries again.
func sweepDeadLetters(ctx context.Context, cfg DeadLetterConfig, d DeadLetters, tenants []*privacy.Tenant, now time.Time, log *slog.Logger) (purged int, failed int) {
	if d == nil || cfg.Keep <= 0 {
		return 0, 0
	}
	for _, q := range cfg.Queues {
		keep := deadLetterKeep(cfg, q, tenants)
		n, err := d.PurgeDeadLetterBodies(ctx, q, now.Add(-keep))
		purged += n
		if err != nil {
			failed++
			log.WarnContext(ctx, "dead-letter bodies not purged", "queue", q, "keep", keep.String(), "purged", n, "error", err.Error())
			continue
		}
		log.InfoContext(ctx, "dead-letter bodies purged", "queue", q, "keep", keep.String(), "purged", n)
	}
	return purged, failed
}
