// Package retentionjob sweeps one tenant's retention policies per message of
// the retention queue (%RETENTION_QUEUE%; the retention timer enqueues one
// per tenant and occurrence). Each invocation works page by page within
// RETENTION_BUDGET and checkpoints after each page; if the run is not done it
// enqueues the job again (a new message id per invocation), and if another
// invocation holds the tenant's run it schedules a check for when that lease
// runs out (the owner finished, or died and is taken over), and for a run
// that waits for Service Bus services' answers to purge commands, a check at
// the earliest answer deadline (unanswered policies are then reported
// no-answer and the run ends). A malformed
// message is logged and acknowledged; a transient failure is returned so the
// message is redelivered, and the redelivery resumes from the checkpoint.
package retentionjob

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

	"github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/privacy"
	domain "github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/trigger"
)

// Sweeper is what the job needs of the retention domain.
type Sweeper interface {
	Job(ctx context.Context, tenantID, owner string, due time.Time, budget time.Duration) (domain.JobResult, error)
}

// Config holds the job's settings.
type Config struct {
	Queue  string        // RETENTION_QUEUE, where continuations go
	Budget time.Duration // RETENTION_BUDGET
}

// Deps are the job's collaborators.
type Deps struct {
	Sweeper   Sweeper
	Publisher privacy.Publisher
	Logger    *slog.Logger
}

// New returns the queue function.
func New(cfg Config, d Deps) trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error {
		log := d.Logger.With("function", "retentionjob", "message_id", m.ID, "delivery_count", m.DeliveryCount)
		if inv, ok := trigger.InvocationFrom(ctx); ok {
			log = log.With("invocation_id", inv.ID)
		}
		ev, err := privacy.DecodeEvent(m.Body)
		if err == nil && ev.Type != domain.EventSweep {
			err = errors.New("unexpected event type")
		}
		var data domain.SweepData
		if err == nil {
			if jerr := json.Unmarshal(ev.Data, &data); jerr != nil || data.Due.IsZero() {
				err = errors.New("sweep data needs due")
			}
		}
		if err != nil {
			log.WarnContext(ctx, "retention message rejected", "reason", err.Error())
			return nil
		}
		log = log.With("tenant_id", ev.TenantID)
		res, err := d.Sweeper.Job(ctx, ev.TenantID, owner(), data.Due, cfg.Budget)
		if errors.Is(err, privacy.ErrNotFound) {
			log.WarnContext(ctx, "retention message for an unknown tenant dropped")
			return nil
		}
		if err != nil {
			log.WarnContext(ctx, "retention job failed; will be redelivered and resume from its checkpoint", "error", err.Error())
			return err
		}
		var next privacy.OutMessage
		switch {
		case res.More:
			next, err = retention.Message(ev.TenantID, data.Due, "i"+strconv.Itoa(res.Run.Invocations)+"-"+res.Run.ID)
		case !res.WaitUntil.IsZero():
			next, err = retention.Message(ev.TenantID, data.Due, "w"+strconv.FormatInt(res.WaitUntil.Unix(), 10))
			next.NotBefore = res.WaitUntil.Add(time.Second)
		default:
			return nil
		}
		if err == nil {
			err = d.Publisher.Publish(ctx, cfg.Queue, next)
		}
		if err != nil {
			return fmt.Errorf("enqueue the retention job's continuation: %w", err)
		}
		log.InfoContext(ctx, "retention job continues", "more", res.More, "wait_until", res.WaitUntil)
		return nil
	}
}

// owner names this invocation as the holder of a tenant's run.
func owner() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "job-" + hex.EncodeToString(b[:])
}
