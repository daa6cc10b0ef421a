// Package retention is the retention timer (schedule %RETENTION_SCHEDULE%,
// nightly at 02:00 UTC by default). It enqueues one job per tenant that has
// retention policies on the retention queue, with a message id made of the
// tenant and the occurrence, so a second timer firing for the same occurrence
// (or a retried one) enqueues nothing new; the retentionjob function does the
// sweeping. A late occurrence (the host missed it) is flagged in the log.
package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/trigger"
)

// Tenants lists tenants.
type Tenants interface {
	ListTenants(ctx context.Context) ([]*privacy.Tenant, error)
}

// Config holds the timer's settings.
type Config struct {
	Queue string // RETENTION_QUEUE
}

// Deps are the timer's collaborators.
type Deps struct {
	Tenants   Tenants
	Publisher privacy.Publisher
	Now       func() time.Time
	Logger    *slog.Logger
}

// New returns the timer function.
func New(cfg Config, d Deps) trigger.TimerFunc {
	return func(ctx context.Context, ti trigger.TimerInfo) error {
		log := d.Logger.With("function", "retention")
		due := ti.ScheduledAt.UTC()
		if due.IsZero() {
			due = d.Now().UTC().Truncate(time.Second)
		}
		if ti.IsPastDue {
			log.WarnContext(ctx, "retention sweep is past due: the host missed its occurrence and runs it late", "due", due)
		}
		tenants, err := d.Tenants.ListTenants(ctx)
		if err != nil {
			return fmt.Errorf("list tenants: %w", err)
		}
		var errs []error
		jobs := 0
		for _, t := range tenants {
			if len(t.RetentionPolicies) == 0 {
				continue
			}
			m, err := Message(t.ID, due, "")
			if err == nil {
				err = d.Publisher.Publish(ctx, cfg.Queue, m)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", t.ID, err))
				continue
			}
			jobs++
		}
		log.InfoContext(ctx, "retention sweep enqueued", "tenants", len(tenants), "jobs", jobs, "failed", len(errs), "past_due", ti.IsPastDue)
		return errors.Join(errs...)
	}
}

// Message is the job message of tenant for occurrence due. Its id is the
// dedupe key: the timer's is "retention-<tenant>-<due>", a continuation's
// adds suffix.
func Message(tenantID string, due time.Time, suffix string) (privacy.OutMessage, error) {
	id := "retention-" + tenantID + "-" + strconv.FormatInt(due.Unix(), 10)
	if suffix != "" {
		id += "-" + suffix
	}
	ev, err := privacy.NewEvent(id, retention.EventSweep, tenantID, "", due, retention.SweepData{Due: due})
	if err != nil {
		return privacy.OutMessage{}, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return privacy.OutMessage{}, err
	}
	return privacy.OutMessage{ID: id, Body: body}, nil
}
