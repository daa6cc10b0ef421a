// Package notify mails the notices a request's state changes announce (queue
// trigger on the notices queue; message = a CloudEvent carrying ids only). It is
// idempotent: a notice already recorded as sent is skipped. A message that can
// never be processed (malformed, unknown tenant or request) is logged with its
// reason and acknowledged; a transient failure (mail or store down) is returned
// so the queue redelivers it and, in the end, dead-letters it.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// Service is what notify needs of the request lifecycle.
type Service interface {
	SendNotice(ctx context.Context, ev privacy.Event, data privacy.NoticeData) error
}

// Deps are notify's collaborators.
type Deps struct {
	Service Service
	Logger  *slog.Logger
}

// New returns the queue function.
func New(d Deps) trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error {
		log := d.Logger.With("function", "notify", "message_id", m.ID, "delivery_count", m.DeliveryCount)
		if inv, ok := trigger.InvocationFrom(ctx); ok {
			log = log.With("invocation_id", inv.ID)
		}
		ev, err := privacy.DecodeEvent(m.Body)
		if err == nil && ev.Type != privacy.EventNotice {
			err = errors.New("unexpected event type")
		}
		var data privacy.NoticeData
		if err == nil {
			if jerr := json.Unmarshal(ev.Data, &data); jerr != nil || data.RequestID == "" || data.Notice == "" {
				err = errors.New("notice data needs requestId and notice")
			}
		}
		if err != nil {
			log.WarnContext(ctx, "notice message rejected", "reason", err.Error())
			return nil
		}
		log = log.With("tenant_id", ev.TenantID, "request_id", data.RequestID, "notice", data.Notice)
		if err := d.Service.SendNotice(ctx, ev, data); err != nil {
			if errors.Is(err, dsr.ErrPermanent) {
				log.WarnContext(ctx, "notice message rejected", "reason", err.Error())
				return nil
			}
			log.WarnContext(ctx, "notice failed; will be retried", "error", err.Error())
			return err
		}
		log.InfoContext(ctx, "notice processed")
		return nil
	}
}
