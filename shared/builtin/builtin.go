// Package builtin holds the connectors that need no service of their own: the
// cosmos connector (the tenant's data container, searched by identity paths),
// the manual connector (an admin checklist task) and the servicebus connector
// (a task message to the service's own queue; the result comes back as a
// message). Each implements privacy.Connector on the domain's ports only.
package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Manual turns a task into an admin checklist item: the run answers
// "accepted" and the task waits until an admin completes it with a note.
type Manual struct{}

// Run implements privacy.Connector.
func (Manual) Run(context.Context, *privacy.Service, privacy.ConnectorCall) (privacy.ConnectorResult, error) {
	return privacy.ConnectorResult{Outcome: privacy.OutcomeAccepted}, nil
}

// Queue sends a task to a service's own queue. The message carries ids only
// (task, request, tenant, action, deadline) and the callback URL: the service
// fetches the subject's identifiers over the signed callback API and answers
// with a signed result message, as the inbound messages describe.
type Queue struct {
	Publisher privacy.Publisher
	Now       func() time.Time
}

// EventServiceTask is the type of a task message sent to a service's queue.
const EventServiceTask = "io.privops.service.task.v1"

// ServiceTask is the data of an EventServiceTask.
type ServiceTask struct {
	TaskID      string         `json:"taskId"`
	RequestID   string         `json:"requestId"`
	Action      privacy.Action `json:"action"`
	Deadline    time.Time      `json:"deadline"`
	CallbackURL string         `json:"callbackUrl"`
}

// Run implements privacy.Connector.
func (q Queue) Run(ctx context.Context, svc *privacy.Service, call privacy.ConnectorCall) (privacy.ConnectorResult, error) {
	if call.Action == privacy.ActionLookup {
		// A queue service answers later; a lookup cannot wait for it.
		return privacy.ConnectorResult{}, fmt.Errorf("%w: a servicebus service cannot be looked up synchronously", errNoLookup)
	}
	id := call.TaskID + "." + string(call.Action)
	ev, err := privacy.NewEvent(id, EventServiceTask, call.TenantID, "task/"+call.TaskID, q.Now(),
		ServiceTask{TaskID: call.TaskID, RequestID: call.RequestID, Action: call.Action, Deadline: call.Deadline, CallbackURL: call.CallbackURL})
	if err != nil {
		return privacy.ConnectorResult{}, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return privacy.ConnectorResult{}, err
	}
	if err := q.Publisher.Publish(ctx, svc.Queue, privacy.OutMessage{ID: MessageID(call), Body: body}); err != nil {
		return privacy.ConnectorResult{}, err
	}
	return privacy.ConnectorResult{Outcome: privacy.OutcomeAccepted}, nil
}

// MessageID names the queue message of one call of a task: the event's id
// (`<taskId>.<action>`, what the service dedupes on) for the first call, and
// the attempt and retry round after it (`<taskId>.<action>#2`, `…#1.r1`).
// A queue's duplicate detection then drops the same call published twice
// (a crash between publishing and recording it) but never a resend after
// TASK_CALLBACK_TIMEOUT, however long its window.
func MessageID(call privacy.ConnectorCall) string {
	id := call.TaskID + "." + string(call.Action)
	if call.Attempt <= 1 && call.Round == 0 {
		return id
	}
	id += "#" + strconv.Itoa(max(call.Attempt, 1))
	if call.Round > 0 {
		id += ".r" + strconv.Itoa(call.Round)
	}
	return id
}

var errNoLookup = errors.New("lookup not available")

// Container is the built-in cosmos connector: the service's data lives in a
// tenant data container, and each identifier kind the service declares is
// found at its identity path.
type Container struct {
	Items privacy.DataItems
}

// Run implements privacy.Connector: export streams the matching items as
// {"items":[...]} (except those a retention policy marked storage-only, PIPL
// Art. 47: counted in the result's Reason), erase deletes them (marked ones
// too), lookup counts them. Rectify, restrict
// and object need the application's own logic: a cosmos service must not
// declare them (the task fails with that reason if it does).
func (c Container) Run(ctx context.Context, svc *privacy.Service, call privacy.ConnectorCall) (privacy.ConnectorResult, error) {
	type match struct{ path, value string }
	var ms []match
	for _, k := range svc.Identifiers {
		if v := call.Identifiers[k]; v != "" && svc.IdentityPaths[k] != "" {
			ms = append(ms, match{svc.IdentityPaths[k], v})
		}
	}
	if len(ms) == 0 {
		return privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}, nil
	}
	switch call.Action {
	case privacy.ActionExport:
		pr, pw := io.Pipe()
		items, storageOnly := 0, 0
		go func() {
			seen := map[string]bool{}
			_, err := io.WriteString(pw, `{"items":[`)
			for _, m := range ms {
				if err != nil {
					break
				}
				err = c.Items.QueryItems(ctx, call.TenantID, svc.Container, m.path, m.value, func(item []byte) error {
					var head struct {
						ID          string          `json:"id"`
						StorageOnly json.RawMessage `json:"privopsStorageOnly"`
					}
					if json.Unmarshal(item, &head) == nil && head.ID != "" {
						if seen[head.ID] {
							return nil // found by two identifiers: export it once
						}
						seen[head.ID] = true
					}
					if len(head.StorageOnly) > 0 && string(head.StorageOnly) != "null" {
						// Marked storage-only by a retention policy (PIPL
						// Art. 47): stored, not processed, so not exported.
						storageOnly++
						return nil
					}
					if items > 0 {
						if _, err := io.WriteString(pw, ","); err != nil {
							return err
						}
					}
					items++
					_, err := pw.Write(item)
					return err
				})
			}
			if err == nil {
				_, err = io.WriteString(pw, "]}")
			}
			pw.CloseWithError(err)
		}()
		_, err := call.Save(ctx, pr)
		pr.CloseWithError(errors.New("export ended"))
		if err != nil {
			return privacy.ConnectorResult{}, err
		}
		var note string
		if storageOnly > 0 {
			note = fmt.Sprintf("%d items kept storage-only by a retention policy (PIPL Art. 47) were not exported", storageOnly)
		}
		if items == 0 {
			return privacy.ConnectorResult{Outcome: privacy.OutcomeNoData, Reason: note}, nil
		}
		return privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: items, Reason: note}, nil
	case privacy.ActionErase:
		total := 0
		for _, m := range ms {
			n, err := c.Items.DeleteItems(ctx, call.TenantID, svc.Container, m.path, m.value)
			if err != nil {
				return privacy.ConnectorResult{}, err
			}
			total += n
		}
		if total == 0 {
			return privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}, nil
		}
		return privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: total}, nil
	case privacy.ActionLookup:
		found := 0
		for _, m := range ms {
			err := c.Items.QueryItems(ctx, call.TenantID, svc.Container, m.path, m.value, func([]byte) error {
				found++
				return errStop
			})
			if err != nil && !errors.Is(err, errStop) {
				return privacy.ConnectorResult{}, err
			}
		}
		return privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Present: found > 0}, nil
	}
	return privacy.ConnectorResult{}, fmt.Errorf("the built-in cosmos connector cannot %s: it only exports, erases and looks up", call.Action)
}

var errStop = errors.New("stop")
