package dsr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// TaskTarget is what an inbound result names: a tenant's request's task,
// with the service it runs at (for the caller to check a signature with).
type TaskTarget struct {
	Tenant  *privacy.Tenant
	Request *privacy.Request
	Task    *privacy.Task
	Service *privacy.Service
}

// Target loads a task an inbound result (webhook callback, reply message,
// admin completion) names. Unknown tenant, request or task: 404.
func (s *Service) Target(ctx context.Context, tenantID, requestID, taskID string) (*TaskTarget, error) {
	t, r, err := s.load(ctx, tenantID, requestID)
	if err != nil {
		return nil, err
	}
	task := r.Task(taskID)
	if task == nil {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-task", "no such task")
	}
	return &TaskTarget{Tenant: t, Request: r, Task: task, Service: t.Service(task.Service)}, nil
}

// Result is an answer that arrives after the task's run: a signed webhook
// callback, a service's reply message, or an admin completing a manual task.
type Result struct {
	Outcome  privacy.Outcome // done, no-data or held
	Items    int
	Reason   string // held: why
	Blob     string // export: where the data was stored
	Bytes    int64
	Note     string // manual: what the admin did
	Evidence string // manual: evidence file blob
}

// CompleteTask records an answer for a task that waits for one (a webhook
// that answered 202, a Service Bus service, a manual task), and completes the
// request if it was the last. An answer that lands while the task is still
// claimed (the service posted before the worker recorded its 202) is the
// result: the worker's own write then finds the task ended and changes
// nothing. A duplicate answer for a task that already ended is accepted and
// changes nothing (replayed callbacks are harmless); an answer for a task
// that was never called is a conflict.
func (s *Service) CompleteTask(ctx context.Context, tg *TaskTarget, res Result, actor Actor) (*privacy.Task, error) {
	task, _, err := s.completeTask(ctx, tg, res, actor, nil)
	return task, err
}

// completeTask is CompleteTask that also reports whether the task had
// already ended (the answer changed nothing).
func (s *Service) completeTask(ctx context.Context, tg *TaskTarget, res Result, actor Actor, k *opKey) (*privacy.Task, bool, error) {
	switch res.Outcome {
	case privacy.OutcomeDone, privacy.OutcomeNoData, privacy.OutcomeHeld:
	default:
		return nil, false, privacy.Errorf(privacy.KindInvalid, "invalid-outcome", "outcome must be done, no-data or held")
	}
	if res.Items < 0 || res.Items > 1<<40 {
		return nil, false, privacy.Errorf(privacy.KindInvalid, "invalid-items", "items must be a non-negative count")
	}
	for _, f := range []string{res.Reason, res.Note} {
		if len(f) > 2000 || !utf8.ValidString(f) {
			return nil, false, privacy.Errorf(privacy.KindInvalid, "invalid-text", "reason and note must be valid text of at most 2000 bytes")
		}
	}
	id := tg.Task.ID
	r, err := s.update(ctx, tg.Request, s.keyed(k, func(r *privacy.Request) error {
		task := r.Task(id)
		if task.Status.Terminal() {
			return errStale
		}
		// A service's answer is accepted while it is the task's result
		// (AwaitsAnswer: even before the worker recorded the 202 it
		// answers); a manual task is completed by an admin unless claimed.
		if !task.AwaitsAnswer() && !(task.Kind == privacy.KindManual && task.Status != privacy.TaskRunning) {
			return privacy.Errorf(privacy.KindConflict, "task-not-waiting", "the task is %s, not waiting for an answer", task.Status)
		}
		now := s.now()
		task.Attempts = max(task.Attempts, 1)
		task.Blob, task.Bytes, task.Note, task.Evidence = res.Blob, res.Bytes, strings.TrimSpace(res.Note), res.Evidence
		if actor.onBehalf() {
			task.By = actor.String()
		}
		if task.StartedAt.IsZero() {
			task.StartedAt = now
		}
		task.Status = privacy.TaskRunning // settle records the answer as a run's result
		s.settle(tg.Tenant, r, task, now, privacy.ConnectorResult{Outcome: res.Outcome, Items: res.Items, Reason: res.Reason}, nil)
		return nil
	}))
	if errors.Is(err, errReplay) { // the same keyed completion landed meanwhile
		cur, err := s.request(ctx, tg.Request.TenantID, tg.Request.ID)
		if err != nil {
			return nil, false, err
		}
		return cur.Task(id), false, nil
	}
	if errors.Is(err, errStale) {
		return tg.Request.Task(id), true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("complete task: %w", err)
	}
	s.taskSettled(ctx, r, id)
	s.d.Step("task-recorded")
	s.flushQuietly(ctx, r)
	return r.Task(id), false, nil
}

// retryable reports whether an admin retry runs task again: a failed task;
// a held task that no legal hold covers any more (a hold defers an erasure,
// it does not cancel it); and, when the admin names it, a task waiting for
// its service's answer (called again with the same Idempotency-Key; not a
// manual task, which waits for the admin's own completion).
func retryable(t *privacy.Tenant, r *privacy.Request, task *privacy.Task, named bool) bool {
	switch task.Status {
	case privacy.TaskFailed:
		return true
	case privacy.TaskHeld:
		return t.HoldFor(r.SubjectHash, task.Service) == nil
	case privacy.TaskWaiting:
		return named && task.Kind != privacy.KindManual
	}
	return false
}

// RetryTasks runs a failed task again, or every failed task of the request
// when taskID is empty, and held tasks no legal hold covers any more; a named
// task waiting for its service's answer is called again. A partially
// completed request reopens for another round and completes again, exactly
// once, when the retried tasks end. When held work starts again the subject
// is told.
func (s *Service) RetryTasks(ctx context.Context, tenantID, requestID, taskID string, actor Actor) (*privacy.Request, error) {
	k, err := s.idem(ctx, tenantID, actor, "tasks.retried", requestID, taskID)
	if err != nil {
		return nil, err
	}
	t, r, err := s.load(ctx, tenantID, requestID)
	if err != nil {
		return nil, err
	}
	if taskID != "" && r.Task(taskID) == nil {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-task", "no such task")
	}
	r, err = s.update(ctx, r, s.keyed(k, func(r *privacy.Request) error {
		if r.Status != privacy.StatusInProgress && r.Status != privacy.StatusPartiallyCompleted {
			return privacy.Errorf(privacy.KindConflict, "not-retryable", "only tasks of an in-progress or partially completed request can be retried")
		}
		// A retention sweep removed the subject's identifiers: no service
		// could be asked about the subject again.
		if !r.StrippedAt.IsZero() {
			return privacy.Errorf(privacy.KindConflict, "request-stripped", "the request's personal data was removed by a retention policy; it can no longer be retried")
		}
		now := s.now()
		n, held := 0, false
		for i := range r.Tasks {
			task := &r.Tasks[i]
			if taskID != "" && task.ID != taskID {
				continue
			}
			if !retryable(t, r, task, taskID != "") {
				if taskID != "" && task.Status == privacy.TaskHeld {
					return privacy.Errorf(privacy.KindConflict, "task-held", "a legal hold still covers this task; release the hold first")
				}
				continue
			}
			if t.Service(task.Service) == nil {
				continue // the service is gone: retrying cannot help
			}
			held = held || task.Status == privacy.TaskHeld
			if err := s.rerun(r, task, now); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return privacy.Errorf(privacy.KindConflict, "nothing-to-retry", "no failed task, or held task no hold covers, to retry (a waiting task is retried by naming it)")
		}
		return s.reopen(r, now, actor, "tasks.retried", n, held)
	}))
	if errors.Is(err, errReplay) {
		return s.replayChange(ctx, tenantID, requestID)
	}
	if err != nil {
		return nil, err
	}
	s.flushQuietly(ctx, r)
	return r, nil
}

// CompleteManual records an admin's completion of a manual task, with an
// optional evidence file (a screenshot, an export from the service's own
// tool) stored beside the request.
func (s *Service) CompleteManual(ctx context.Context, tenantID, requestID, taskID string, res Result, evidence []byte, actor Actor) (*privacy.Task, error) {
	sum := sha256.Sum256(evidence)
	k, err := s.idem(ctx, tenantID, actor, "task.completed", requestID, taskID, string(res.Outcome), strconv.Itoa(res.Items),
		res.Reason, res.Note, hex.EncodeToString(sum[:]))
	if err != nil {
		return nil, err
	}
	tg, err := s.Target(ctx, tenantID, requestID, taskID)
	if err != nil {
		return nil, err
	}
	if _, err := k.check(tg.Request.AdminOps); errors.Is(err, errReplay) {
		return tg.Task, nil // completed with this key: the first answer
	} else if err != nil {
		return nil, err
	}
	if tg.Task.Kind != privacy.KindManual {
		return nil, privacy.Errorf(privacy.KindConflict, "not-manual", "only a manual task is completed by hand")
	}
	if strings.TrimSpace(res.Note) == "" {
		return nil, privacy.Errorf(privacy.KindInvalid, "note-required", "say what was done in a note")
	}
	// Evidence is immutable once recorded: an ended task is refused before
	// anything is written, and each completion stores its file under a name
	// of its own, so a completion that loses a race to another never
	// replaces the file the winner recorded (its own is removed).
	if tg.Task.Status.Terminal() {
		return nil, privacy.Errorf(privacy.KindConflict, "task-ended", "the task is already %s; what was recorded stays as it is", tg.Task.Status)
	}
	res.Blob, res.Bytes, res.Evidence = "", 0, ""
	if len(evidence) > 0 {
		name := tenantID + "/requests/" + requestID + "/evidence/" + taskID + "/" + newID("ev_")
		if _, err := s.d.Blobs.Put(ctx, name, bytes.NewReader(evidence)); err != nil {
			return nil, fmt.Errorf("store evidence: %w", err)
		}
		res.Evidence = name
	}
	task, ended, err := s.completeTask(ctx, tg, res, actor, k)
	if ended && err == nil {
		err = privacy.Errorf(privacy.KindConflict, "task-ended", "the task already ended; what was recorded stays as it is")
	}
	if err != nil {
		if res.Evidence != "" {
			_ = s.d.Blobs.Delete(ctx, res.Evidence) // never recorded
		}
		return nil, err
	}
	return task, nil
}
