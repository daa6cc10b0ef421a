// Package tasks is the task worker (queue trigger on the tasks queue; message =
// a CloudEvent carrying ids only). A task message runs one action at one
// service; a package message builds a request's export package once its tasks
// ended. Both are idempotent through the request's stored state: a duplicate,
// late or out-of-order delivery changes nothing. A message that can never be
// processed is rejected with its reason (dead-lettered); a transient failure
// of the store is returned for redelivery. Transient connector failures are
// not errors here: the service records them and schedules its own retry.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// Service is what the worker needs of the request lifecycle.
type Service interface {
	RunTask(ctx context.Context, ev privacy.Event, data privacy.TaskData, deliveryCount int) error
	BuildPackage(ctx context.Context, ev privacy.Event, data privacy.TaskData) error
}

// Deps are the worker's collaborators.
type Deps struct {
	Service Service
	Logger  *slog.Logger
}

// New returns the queue function.
func New(d Deps) trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error {
		log := d.Logger.With("function", "tasks", "message_id", m.ID, "delivery_count", m.DeliveryCount)
		if inv, ok := trigger.InvocationFrom(ctx); ok {
			log = log.With("invocation_id", inv.ID)
		}
		ev, err := privacy.DecodeEvent(m.Body)
		if err != nil {
			log.WarnContext(ctx, "task message rejected", "reason", "malformed-event")
			return trigger.Reject("malformed-event: not a CloudEvent with id, source, type and tenantid")
		}
		var data privacy.TaskData
		if json.Unmarshal(ev.Data, &data) != nil || data.RequestID == "" {
			return trigger.Reject("malformed-data: task data needs requestId")
		}
		log = log.With("tenant_id", ev.TenantID, "request_id", data.RequestID, "task_id", data.TaskID, "type", ev.Type)
		switch ev.Type {
		case privacy.EventTaskRun:
			if data.TaskID == "" {
				return trigger.Reject("malformed-data: a task message needs taskId")
			}
			err = d.Service.RunTask(ctx, ev, data, m.DeliveryCount)
		case privacy.EventPackage:
			err = d.Service.BuildPackage(ctx, ev, data)
		default:
			return trigger.Reject("unknown-type: the tasks queue takes task and package events")
		}
		if errors.Is(err, dsr.ErrPermanent) {
			log.WarnContext(ctx, "task message rejected", "reason", err.Error())
			return trigger.Reject(err.Error())
		}
		if err != nil {
			log.WarnContext(ctx, "task message failed; will be redelivered", "error", err.Error())
			return err
		}
		log.InfoContext(ctx, "task message processed")
		return nil
	}
}
