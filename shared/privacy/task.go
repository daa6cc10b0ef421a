package privacy

import (
	"slices"
	"time"
)

// TaskStatus is where one task (one action at one service) stands.
type TaskStatus string

// Task statuses. Done, no-data, held, failed, skipped and cancelled are terminal.
const (
	TaskPending   TaskStatus = "pending"   // recorded; its message is published (or scheduled at NotBefore)
	TaskRunning   TaskStatus = "running"   // claimed by a worker until LeaseUntil
	TaskWaiting   TaskStatus = "waiting"   // the service answers later: signed callback, reply message or an admin
	TaskDone      TaskStatus = "done"      // carried out
	TaskNoData    TaskStatus = "no-data"   // the service holds nothing about the subject
	TaskHeld      TaskStatus = "held"      // a legal hold keeps the data; Reason says which
	TaskFailed    TaskStatus = "failed"    // gave up: a permanent error, or retries ran out of time; Reason says why
	TaskSkipped   TaskStatus = "skipped"   // not applicable (rectify or restrict of system-generated logs)
	TaskCancelled TaskStatus = "cancelled" // the request was withdrawn before the task ran
)

// Terminal reports whether s is a final task status.
func (s TaskStatus) Terminal() bool {
	switch s {
	case TaskDone, TaskNoData, TaskHeld, TaskFailed, TaskSkipped, TaskCancelled:
		return true
	}
	return false
}

// Succeeded reports whether s counts as the service having answered the request.
func (s TaskStatus) Succeeded() bool {
	return s == TaskDone || s == TaskNoData || s == TaskSkipped || s == TaskCancelled
}

// Verification states of an erasure.
const (
	VerifyAbsent      = "absent"        // re-queried after the delete: nothing found
	VerifyUnsupported = "not-supported" // the connector cannot look up; the service's answer is the proof
)

// Task is one action at one service for one request. Tasks live inside their
// request's document, so a task transition and the request's completion are
// one ETag-guarded write, and fan-in needs no cross-document transaction.
type Task struct {
	ID          string        `json:"id"` // deterministic: request, service, action
	Service     string        `json:"service"`
	ServiceName string        `json:"serviceName"`
	Kind        ConnectorKind `json:"kind"`
	Action      Action        `json:"action"`
	Status      TaskStatus    `json:"status"`
	Attempts    int           `json:"attempts"`
	// NotBefore delays a pending task: the erasure after its grace period, or
	// the next attempt after a transient failure.
	NotBefore  time.Time `json:"notBefore,omitzero"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"` // running: the claim ends then
	Reason     string    `json:"reason,omitempty"`    // held, failed, skipped: why
	Items      int       `json:"items"`
	Blob       string    `json:"blob,omitempty"` // export: the stored answer
	Bytes      int64     `json:"bytes,omitempty"`
	// Verification of an erasure: VerifyAbsent or VerifyUnsupported.
	Verification string    `json:"verification,omitempty"`
	VerifiedAt   time.Time `json:"verifiedAt,omitzero"`
	// Manual tasks: who completed it, their note and the evidence file.
	By       string `json:"by,omitempty"`
	Note     string `json:"note,omitempty"`
	Evidence string `json:"evidence,omitempty"`

	// AnswerBy ends a waiting task's wait for its service's answer (a webhook
	// callback, a reply message): then the reconciler calls the service again
	// with the same Idempotency-Key, or fails the task once its attempts are
	// spent. Zero for a manual task, which waits for an admin.
	AnswerBy time.Time `json:"answerBy,omitzero"`
	// HoldID and HoldCategory name the tenant's legal hold that keeps a held
	// task's data (empty when the service itself answered "held"): its
	// release starts the task again, and the subject is told the category.
	HoldID       string       `json:"holdId,omitempty"`
	HoldCategory HoldCategory `json:"holdCategory,omitempty"`

	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Wake is when the reconciler should look at the task if nothing else moved
// it: a running task whose lease ran out, a pending task whose message never
// came, or a waiting task whose answer did not come by AnswerBy. Zero for a
// task that waits on an admin or is terminal.
func (t *Task) Wake(lease time.Duration) time.Time {
	switch t.Status {
	case TaskRunning:
		return t.LeaseUntil
	case TaskWaiting:
		return t.AnswerBy
	case TaskPending:
		if t.NotBefore.After(t.UpdatedAt) {
			return t.NotBefore.Add(lease)
		}
		return t.UpdatedAt.Add(lease)
	}
	return time.Time{}
}

// AwaitsAnswer reports whether an answer from the task's service (a signed
// webhook callback, a reply message) is the task's result now: while it
// waits for one, and also while it is claimed (running), because a service
// that answers 202 may post its result before the worker has recorded the
// 202, and while it is pending after a call (re-called, the earlier call's
// answer still counts). A manual task is answered by an admin instead.
func (t *Task) AwaitsAnswer() bool {
	switch t.Status {
	case TaskWaiting:
		return true
	case TaskRunning:
		return t.Kind != KindManual
	case TaskPending:
		return t.Kind != KindManual && t.Attempts > 0
	}
	return false
}

// Package is a request's export package.
type Package struct {
	Blob      string    `json:"blob"`
	Bytes     int64     `json:"bytes"`
	Files     int       `json:"files"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"` // the download link stops working then
	// RemovedAt is when a retention sweep deleted the package's blob (its
	// link then answers 410 package-removed); zero while it is kept.
	RemovedAt time.Time `json:"removedAt,omitzero"`
}

// Task returns the request's task with id, or nil.
func (r *Request) Task(id string) *Task {
	for i := range r.Tasks {
		if r.Tasks[i].ID == id {
			return &r.Tasks[i]
		}
	}
	return nil
}

// TasksDone reports whether the request has tasks and all are terminal.
func (r *Request) TasksDone() bool {
	return len(r.Tasks) > 0 && !slices.ContainsFunc(r.Tasks, func(t Task) bool { return !t.Status.Terminal() })
}

// SetWake recomputes WakeAt from the tasks and from an open pause's end.
func (r *Request) SetWake(lease time.Duration) {
	r.WakeAt = time.Time{}
	for i := range r.Tasks {
		r.WakeBy(r.Tasks[i].Wake(lease))
	}
	if p := r.OpenPause(); p != nil {
		r.WakeBy(p.Until)
	}
}

// WakeBy brings WakeAt forward to w (a zero w changes nothing).
func (r *Request) WakeBy(w time.Time) {
	if !w.IsZero() && (r.WakeAt.IsZero() || w.Before(r.WakeAt)) {
		r.WakeAt = w
	}
}

// AttentionAt is the earliest time the reconciler should look at the request:
// its oldest unpublished outbox event or its WakeAt, whichever comes first
// (zero if neither). Stores index it so ListStuck finds stuck work by one
// range condition.
func (r *Request) AttentionAt() time.Time {
	at := r.WakeAt
	for _, e := range r.Outbox {
		if at.IsZero() || e.At.Before(at) {
			at = e.At
		}
	}
	return at
}
