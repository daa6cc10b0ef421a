// Package deadlinewatch is the hourly timer (schedule %DEADLINE_WATCH_SCHEDULE%,
// hourly by default). For every tenant it finishes what a crash left behind (it
// flushes outboxes older than their lease: audit entries and notice messages of
// requests, and the audit events a tenant change left in the tenant document;
// re-drives tasks whose claim, message or service answer did not come; and
// starts again erasures a released legal hold deferred), cancels requests
// whose code was never entered within UNVERIFIED_EXPIRY, restarts clocks paused
// for a clarification nobody answered within CLARIFICATION_WAIT, mails each
// tenant's privacy contact a daily digest of the requests overdue or due
// soon (ids and dates, from DEADLINE_DIGEST_HOUR local), and it reports how
// many open requests are overdue or due soon — counts, never contents. It also
// flags a tenant whose nightly retention sweep did not start for an occurrence
// of the retention schedule more than RetentionGrace ago (a missed night). It
// carries offboardings on (shared/offboard): the return package, then, once
// the notice period ended and no legal hold stops it, the purge of the
// tenant, a bounded part per run, and its certificate. With Deps.Breach set
// it then runs the breach step: incident and notice outboxes a crash left are
// finished, and every breach clock that reached an escalation point is
// escalated (re-notify the primary contacts at half the clock, the secondary
// at three quarters, both once it ended), each escalation recorded once,
// including a clock that ended while the process was down. A failure for one
// tenant does not stop the others.
package deadlinewatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/ncrontab"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
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
	// Digest mails the tenant's privacy contact the day's deadline digest
	// (requests overdue or due within warn: ids and dates), once a day.
	Digest(ctx context.Context, t *privacy.Tenant, warn time.Duration) (bool, error)
}

// Breach is the breach flow's watch step (shared/breach).
type Breach interface {
	Watch(ctx context.Context, limit int) (breach.WatchReport, error)
}

// Offboarder advances a tenant's offboarding (shared/offboard).
type Offboarder interface {
	// RunTenant reads the tenant as stored and advances its offboarding.
	RunTenant(ctx context.Context, tenantID string) (offboard.Outcome, error)
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
	// RetentionSchedule is the retention timer's schedule (nil: no check);
	// a sweep that has not started RetentionGrace after an occurrence is
	// reported missed.
	RetentionSchedule ncrontab.Schedule
	RetentionGrace    time.Duration
	// OffboardTimeout bounds one tenant's offboarding run (building a
	// return package streams all of the tenant's records; the purge itself
	// stops at its own budget); 0 is PerTenant.
	OffboardTimeout time.Duration
}

// Deps are the watch's collaborators.
type Deps struct {
	Service Service
	Tenants Tenants
	// Offboarder, if set, carries offboarding tenants on.
	Offboarder Offboarder
	Logger     *slog.Logger
	// Counts, if set, is given each tenant's counts after a run that
	// succeeded for it: the deadlines-overdue metric. Counts, never contents.
	Counts func(ctx context.Context, tenantID string, overdue, dueSoon int)
	// Now is the clock of the missed-sweep check.
	Now func() time.Time
	// Breach, if set, runs the breach step after the tenants.
	Breach Breach
	// PurgeBreachLists, if set, purges breach recipient lists (and staged
	// uploads) past their keep, of every tenant, once per run: the backstop
	// of the purge message each campaign schedules for its expiry.
	PurgeBreachLists func(ctx context.Context, limit int) (int, error)
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
		now := t.ScheduledAt
		if d.Now != nil {
			now = d.Now()
		}
		due := lastOccurrence(cfg.RetentionSchedule, now.UTC().Add(-cfg.RetentionGrace))
		for _, tn := range tenants {
			if missedRetention(tn, due) {
				log.WarnContext(ctx, "retention sweep missed: no run started for the occurrence", "tenant_id", tn.ID, "due", due)
			}
			tctx, cancel := context.WithTimeout(ctx, cfg.PerTenant)
			tenantFlushed, terr := d.Service.RedriveTenant(tctx, tn)
			flushed, overdue, soon, err := d.Service.Redrive(tctx, tn.ID, cfg.Warn, cfg.Limit)
			resumed, rerr := d.Service.ResumeReleased(tctx, tn)
			digest, derr := d.Service.Digest(tctx, tn, cfg.Warn)
			rerr = errors.Join(rerr, derr)
			cancel()
			if tn.IsOffboarding() && d.Offboarder != nil {
				budget := cfg.OffboardTimeout
				if budget <= 0 {
					budget = cfg.PerTenant
				}
				oerr := offboardTenant(ctx, d, budget, tn.ID, log)
				rerr = errors.Join(rerr, oerr)
			}
			if tenantFlushed {
				flushed++
			}
			flushed += resumed
			err = errors.Join(terr, err, rerr)
			log.InfoContext(ctx, "deadline watch", "tenant_id", tn.ID, "redriven", flushed, "overdue", overdue, "due_soon", soon, "digest_mailed", digest, "past_due_run", t.IsPastDue)
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", tn.ID, err))
			} else if d.Counts != nil {
				d.Counts(ctx, tn.ID, overdue, soon)
			}
		}
		if d.Breach != nil {
			rep, err := d.Breach.Watch(ctx, cfg.Limit)
			log.InfoContext(ctx, "breach watch", "incidents", rep.Incidents, "notices", rep.Notices, "escalations", rep.Escalations, "failed", rep.Failed)
			if err != nil {
				errs = append(errs, fmt.Errorf("breach: %w", err))
			}
		}
		if d.PurgeBreachLists != nil {
			n, err := d.PurgeBreachLists(ctx, cfg.Limit)
			log.InfoContext(ctx, "breach recipient lists purged", "lists", n)
			if err != nil {
				errs = append(errs, fmt.Errorf("purge breach recipient lists: %w", err))
			}
		}
		return errors.Join(errs...)
	}
}

// offboardTenant runs a tenant's offboarding on the tenant as stored now
// (the redrive steps before may have written it), within its own budget.
func offboardTenant(ctx context.Context, d Deps, budget time.Duration, id string, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	out, err := d.Offboarder.RunTenant(ctx, id)
	if err != nil {
		return fmt.Errorf("offboarding: %w", err)
	}
	log.InfoContext(ctx, "offboarding", "tenant_id", id, "outcome", string(out))
	return nil
}

// lastOccurrence returns the schedule's last occurrence at or before until
// within the 25 hours before it (zero if none, or without a schedule). A
// schedule firing more often than every 20 seconds is searched over the last
// 10 minutes only.
func lastOccurrence(s ncrontab.Schedule, until time.Time) time.Time {
	if s == nil {
		return time.Time{}
	}
	for _, span := range []time.Duration{25 * time.Hour, 10 * time.Minute} {
		var last time.Time
		t := until.Add(-span)
		for range 5000 {
			n := s.Next(t)
			if n.IsZero() || n.After(until) {
				return last
			}
			last, t = n, n
		}
	}
	return time.Time{}
}

// missedRetention reports whether a tenant with retention policies older than
// occurrence due has no run that started at or after it.
func missedRetention(t *privacy.Tenant, due time.Time) bool {
	if due.IsZero() || len(t.RetentionPolicies) == 0 {
		return false
	}
	older := false
	for _, p := range t.RetentionPolicies {
		older = older || p.CreatedAt.Before(due)
	}
	return older && retention.LastStarted(t).Before(due)
}
