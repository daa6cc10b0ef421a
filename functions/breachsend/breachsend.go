// Package breachsend is the breach lane's queue function (%BREACH_SEND_QUEUE%):
// each message names an incident's campaign and one step of it, by ids and
// ranges only: a plan step (enqueue the next batches), a batch (deliver
// recipients from..to) or a purge (delete the recipient list once its keep
// ran out). Its own queue and workers, and its own mailer, keep breach mail
// from starving the portal's codes and the DSR notices. A malformed message
// is logged and acknowledged; a store or queue fault is returned so the
// message is redelivered, and the ledger makes the redelivery send nothing
// twice.
package breachsend

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	domain "github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// Campaigns is what the function needs of the fan-out.
type Campaigns interface {
	Plan(ctx context.Context, tenantID string, w domain.Work) error
	Deliver(ctx context.Context, tenantID string, w domain.Work) error
	Purge(ctx context.Context, tenantID, incidentID string) (int, error)
}

// Deps are the function's collaborators.
type Deps struct {
	Campaigns Campaigns
	Logger    *slog.Logger
}

// New returns the queue function.
func New(d Deps) trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error {
		log := d.Logger.With("function", "breachsend", "message_id", m.ID, "delivery_count", m.DeliveryCount)
		if inv, ok := trigger.InvocationFrom(ctx); ok {
			log = log.With("invocation_id", inv.ID)
		}
		ev, err := privacy.DecodeEvent(m.Body)
		var w domain.Work
		if err == nil {
			if jerr := json.Unmarshal(ev.Data, &w); jerr != nil || w.IncidentID == "" {
				err = errors.New("breachsend data needs incidentId")
			}
		}
		if err != nil {
			log.WarnContext(ctx, "breachsend message rejected", "reason", err.Error())
			return nil
		}
		log = log.With("tenant_id", ev.TenantID, "type", ev.Type)
		switch ev.Type {
		case domain.EventPlan:
			err = d.Campaigns.Plan(ctx, ev.TenantID, w)
		case domain.EventBatch:
			err = d.Campaigns.Deliver(ctx, ev.TenantID, w)
		case domain.EventPurge:
			_, err = d.Campaigns.Purge(ctx, ev.TenantID, w.IncidentID)
		default:
			log.WarnContext(ctx, "breachsend message of an unknown type dropped")
			return nil
		}
		if err != nil {
			log.WarnContext(ctx, "breachsend step failed; it will be redelivered", "error", err.Error())
		}
		return err
	}
}
