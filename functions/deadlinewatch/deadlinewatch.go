// Package deadlinewatch is the hourly timer (schedule %DEADLINE_WATCH_SCHEDULE%,
// hourly by default). For every tenant it finishes what a crash left behind (it
// flushes outboxes older than their lease: audit entries and notice messages of
// requests, and the audit events a tenant change left in the tenant document;
// re-drives tasks whose claim, message or service answer did not come; and
// starts again erasures a released legal hold deferred), and it reports how
// many open requests are overdue or due soon — counts, never
// contents. A failure for one tenant does not stop the others.
package deadlinewatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// Service is what the watch needs.
type Service interface {
	Redrive(ctx context.Context, tenantID string, warn time.Duration, limit int) (flushed, overdue, dueSoon int, err error)
	// RedriveTenant finishes the tenant document's audit outbox a crash left.
	RedriveTenant(ctx context.Context, t *privacy.Tenant) (bool, error)
	// ResumeReleased starts again the erasures released holds deferred; it
	// reads and writes nothing unless a release was cut short.
	ResumeReleased(ctx context.Context, t *privacy.Tenant) (int, error)
}

// Tenants lists tenants.
type Tenants interface {
	ListTenants(ctx context.Context) ([]*privacy.Tenant, error)
}

// Config holds the watch's settings.
type Config struct {
	Warn      time.Duration // "due soon" window (7 days)
	Limit     int           // requests examined per tenant per run
	PerTenant time.Duration // time budget per tenant
}

// Deps are the watch's collaborators.
type Deps struct {
	Service Service
	Tenants Tenants
	Logger  *slog.Logger
	// Counts, if set, is given each tenant's counts after a run that
	// succeeded for it: the deadlines-overdue metric. Counts, never contents.
	Counts func(ctx context.Context, tenantID string, overdue, dueSoon int)
}

// New returns the timer function.
func New(cfg Config, d Deps) trigger.TimerFunc {
	return func(ctx context.Context, t trigger.TimerInfo) error {
		log := d.Logger.With("function", "deadlinewatch")
		tenants, err := d.Tenants.ListTenants(ctx)
		if err != nil {
			return fmt.Errorf("list tenants: %w", err)
		}
		var errs []error
		for _, tn := range tenants {
			tctx, cancel := context.WithTimeout(ctx, cfg.PerTenant)
			tenantFlushed, terr := d.Service.RedriveTenant(tctx, tn)
			flushed, overdue, soon, err := d.Service.Redrive(tctx, tn.ID, cfg.Warn, cfg.Limit)
			resumed, rerr := d.Service.ResumeReleased(tctx, tn)
			cancel()
			if tenantFlushed {
				flushed++
			}
			flushed += resumed
			err = errors.Join(terr, err, rerr)
			log.InfoContext(ctx, "deadline watch", "tenant_id", tn.ID, "redriven", flushed, "overdue", overdue, "due_soon", soon, "past_due_run", t.IsPastDue)
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", tn.ID, err))
			} else if d.Counts != nil {
				d.Counts(ctx, tn.ID, overdue, soon)
			}
		}
		return errors.Join(errs...)
	}
}
