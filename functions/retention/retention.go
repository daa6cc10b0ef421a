// Package retention is the retention timer (schedule %RETENTION_SCHEDULE%,
// nightly at 02:00 UTC by default). It enqueues one job per tenant that has
// retention policies on the retention queue, with a message id made of the
// tenant and the occurrence, so a second timer firing for the same occurrence
// (or a retried one) enqueues nothing new; the retentionjob function does the
// sweeping. A late occurrence (the host missed it) is flagged in the log.
//
// The timer first takes the occurrence's timer lease (LeaseName, a document
// in the operator's partition, guarded, with an expiry): of two invocations
// of one occurrence started at once (two hosts, a standalone scheduler
// beside a Functions host, a retry racing the original) one enqueues and the
// other skips, logged. The lease is kept until it expires, so a duplicate of
// the same occurrence skips too, while the next occurrence has a lease of
// its own; a holder that crashed loses it when it expires; an invocation
// that failed releases it so the host's retry can run.
//
// Under the same lease, after the jobs, it sweeps the dead letters of every
// queue (an operator-level step: dead-letter queues are not per tenant):
// bodies enqueued longer ago than DEADLETTER_KEEP are removed (the inbound
// queue's sooner still, see deadletter.go), and the log reports the counts.
package retention

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Lease is the global timer lease (the store's operator-level leases).
type Lease interface {
	// AcquireLease gives the lease name to owner until then, unless another
	// owner holds it past now. It reports whether owner holds it.
	AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	// ReleaseLease ends owner's lease, if it still holds it. Idempotent.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// LeaseName names the timer's lease document of occurrence due.
func LeaseName(due time.Time) string {
	return "retention-timer-" + strconv.FormatInt(due.Unix(), 10)
}

// DefaultLease is how long an occurrence's timer lease holds: longer than
// listing the tenants, enqueueing their jobs and the dead-letter step take,
// and short, since a host restarted after a crash runs the occurrence again
// (past due) and skips it while the dead holder's lease lasts (the deadline
// watch then flags the night as missed).
const DefaultLease = 5 * time.Minute

// Config holds the timer's settings.
type Config struct {
	Queue string        // RETENTION_QUEUE
	Lease time.Duration // the timer lease's length; default DefaultLease
	// DeadLetters configures the timer's dead-letter step (deadletter.go).
	DeadLetters DeadLetterConfig
}

// Deps are the timer's collaborators.
type Deps struct {
	Tenants   Tenants
	Publisher privacy.Publisher
	// Lease is the global timer lease; nil: none (the per-tenant run lease
	// and the job message ids still keep two sweeps of a tenant apart).
	Lease  Lease
	Now    func() time.Time
	Logger *slog.Logger
	// NewID names this invocation as the lease's owner (default: random).
	NewID func() string
	// DeadLetters removes dead-lettered bodies past DEADLETTER_KEEP after
	// the jobs are enqueued; nil: no dead-letter step (a queue backend
	// without one).
	DeadLetters DeadLetters
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
		if d.Lease != nil {
			owner := newID(d.NewID)
			now := d.Now().UTC()
			ok, err := d.Lease.AcquireLease(ctx, LeaseName(due), owner, now, now.Add(cmpOr(cfg.Lease, DefaultLease)))
			if err != nil {
				return fmt.Errorf("retention timer lease: %w", err)
			}
			if !ok {
				log.InfoContext(ctx, "retention sweep skipped: another invocation holds the timer lease", "due", due)
				return nil
			}
			err = enqueue(ctx, cfg, d, due, ti.IsPastDue, log)
			if err != nil {
				// Let the host's retry run now rather than when the lease
				// expires (what it enqueued is deduplicated by message id).
				if rerr := d.Lease.ReleaseLease(context.WithoutCancel(ctx), LeaseName(due), owner); rerr != nil {
					log.WarnContext(ctx, "retention timer lease not released; it expires", "error", rerr.Error())
				}
			}
			return err
		}
		return enqueue(ctx, cfg, d, due, ti.IsPastDue, log)
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func newID(f func() string) string {
	if f != nil {
		return f()
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "timer-" + hex.EncodeToString(b)
}

// enqueue publishes one job per tenant with policies for occurrence due.
func enqueue(ctx context.Context, cfg Config, d Deps, due time.Time, pastDue bool, log *slog.Logger) error {
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
	log.InfoContext(ctx, "retention sweep enqueued", "due", due, "tenants", len(tenants), "jobs", jobs, "failed", len(errs), "past_due", pastDue)
	if purged, failed := sweepDeadLetters(ctx, cfg.DeadLetters, d.DeadLetters, tenants, d.Now().UTC(), log); d.DeadLetters != nil {
		log.InfoContext(ctx, "dead-letter sweep finished", "queues", len(cfg.DeadLetters.Queues), "purged", purged, "failed_queues", failed)
	}
	return errors.Join(errs...)
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
