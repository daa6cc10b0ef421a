package dsr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// taskID is deterministic, so a re-driven fan-out names the same tasks.
func taskID(requestID, service string, a privacy.Action) string {
	return requestID + "." + service + "." + string(a)
}

// actionsFor returns the actions a request type asks of every service: the
// erasure's grace-period restriction comes first when the tenant has one.
func actionsFor(typ privacy.RequestType) privacy.Action {
	switch typ {
	case privacy.TypeAccess, privacy.TypeExport:
		return privacy.ActionExport
	case privacy.TypeErase:
		return privacy.ActionErase
	case privacy.TypeRectify:
		return privacy.ActionRectify
	case privacy.TypeRestrict:
		return privacy.ActionRestrict
	case privacy.TypeLiftRestriction:
		return privacy.ActionLiftRestriction
	}
	return privacy.ActionObject
}

// fanOut records one task per (service, action) for an approved request and
// puts a message per runnable task in the outbox, all in the approval's write:
// no crash can lose or duplicate a task. Services that hold none of the
// request's categories get no task. It returns false when nothing is left to
// run (every task ended at once, or no service holds the data).
func (s *Service) fanOut(t *privacy.Tenant, r *privacy.Request, now time.Time) error {
	main := actionsFor(r.Type)
	grace := time.Duration(0)
	if r.Type == privacy.TypeErase {
		grace = t.Grace()
		if grace > 0 {
			r.GraceUntil = now.Add(grace)
		}
	}
	for i := range t.Services {
		svc := &t.Services[i]
		if !svc.Holds(r.Categories) {
			continue
		}
		if grace > 0 && svc.Supports(privacy.ActionRestrict) {
			s.addTask(r, svc, privacy.ActionRestrict, now, time.Time{})
		}
		task := s.addTask(r, svc, main, now, r.GraceUntil)
		switch {
		case (main == privacy.ActionRectify || main == privacy.ActionRestrict || main == privacy.ActionLiftRestriction) && onlyLogs(svc, r.Categories):
			task.Status, task.Reason = privacy.TaskSkipped, fmt.Sprintf("%s does not apply to system-generated logs", main)
		case !svc.Supports(main):
			task.Status, task.Reason = privacy.TaskFailed, fmt.Sprintf("the %s connector of this service does not support %s: handle it in the service's own tools", svc.Kind, main)
		case main == privacy.ActionErase:
			if h := t.HoldFor(r.SubjectHash, svc.ID); h != nil {
				task.Status, task.Reason, task.HoldID, task.HoldCategory = privacy.TaskHeld, "legal hold: "+h.Reason, h.ID, h.Category
			}
		}
		if task.Status.Terminal() {
			task.FinishedAt = now
		}
	}
	for i := range r.Tasks {
		if r.Tasks[i].Status == privacy.TaskPending {
			if err := s.taskMessage(r, &r.Tasks[i], now, ""); err != nil {
				return err
			}
		}
	}
	r.SetWake(s.cfg.TaskLease)
	s.audit(r, now, "system", "request.fanned-out", map[string]string{"tasks": strconv.Itoa(len(r.Tasks))})
	return nil
}

// onlyLogs reports whether what the service holds of the request's
// categories is system-generated logs only.
func onlyLogs(svc *privacy.Service, cats []privacy.Category) bool {
	held := svc.Categories
	if len(cats) > 0 {
		held = slices.DeleteFunc(slices.Clone(svc.Categories), func(c privacy.Category) bool { return !slices.Contains(cats, c) })
	}
	return len(held) > 0 && !slices.ContainsFunc(held, func(c privacy.Category) bool { return c != privacy.CategorySystemLogs })
}

func (s *Service) addTask(r *privacy.Request, svc *privacy.Service, a privacy.Action, now, notBefore time.Time) *privacy.Task {
	r.Tasks = append(r.Tasks, privacy.Task{ID: taskID(r.ID, svc.ID, a), Service: svc.ID, ServiceName: svc.Name,
		Kind: svc.Kind, Action: a, Status: privacy.TaskPending, NotBefore: notBefore, UpdatedAt: now})
	return &r.Tasks[len(r.Tasks)-1]
}

// taskMessage puts the message that runs task into r's outbox, scheduled at
// the task's NotBefore. Its id names the attempt, so the queue's dedupe drops
// a republished copy but a retry is a new message.
func (s *Service) taskMessage(r *privacy.Request, task *privacy.Task, now time.Time, suffix string) error {
	id := task.ID + "#" + strconv.Itoa(task.Attempts) + suffix
	if r.Round > 0 {
		// RetryTasks resets Attempts, so a retry round's backoff message
		// would reuse an id of the round before ("…#1") and be dropped by
		// the queue's dedupe window: the round names its messages.
		id += ".r" + strconv.Itoa(r.Round)
	}
	ev, err := privacy.NewEvent(id, privacy.EventTaskRun, r.TenantID, "request/"+r.ID, now,
		privacy.TaskData{RequestID: r.ID, TaskID: task.ID})
	if err != nil {
		return err
	}
	r.Outbox = append(r.Outbox, privacy.OutboxEvent{ID: id, At: now, Queue: s.cfg.TasksQueue, Message: &ev, NotBefore: task.NotBefore})
	return nil
}

// start fans an approved request out and moves it on: in progress while tasks
// run, or straight to its outcome when none has anything to run.
func (s *Service) start(t *privacy.Tenant, r *privacy.Request, now time.Time) error {
	if err := s.fanOut(t, r, now); err != nil {
		return err
	}
	if err := r.Move(privacy.StatusInProgress); err != nil {
		return err
	}
	if len(r.Tasks) == 0 {
		// No service holds the requested categories: answer that nothing is held.
		if r.Type == privacy.TypeAccess || r.Type == privacy.TypeExport {
			s.maybeFinishEmpty(r, now)
			return nil
		}
		s.complete(r, now)
		return nil
	}
	s.maybeFinish(t, r, now)
	return nil
}

// maybeFinishEmpty answers an export no service holds data for: an empty
// package would say only that, so the request completes without one.
func (s *Service) maybeFinishEmpty(r *privacy.Request, now time.Time) { s.complete(r, now) }

// cancelInGrace checks that an in-progress request is an erasure inside its
// grace period with no delete started, cancels its pending tasks and asks the
// services it restricted to lift the restriction.
func (s *Service) cancelInGrace(t *privacy.Tenant, r *privacy.Request, now time.Time) error {
	if r.Type != privacy.TypeErase || r.GraceUntil.IsZero() || !now.Before(r.GraceUntil) {
		return privacy.Errorf(privacy.KindConflict, "work-started", "the work at the services has started; the request can no longer be cancelled")
	}
	for _, task := range r.Tasks {
		if task.Action == privacy.ActionErase && (task.Status == privacy.TaskRunning || task.Status == privacy.TaskDone) {
			return privacy.Errorf(privacy.KindConflict, "work-started", "an erasure already ran; the request can no longer be cancelled")
		}
	}
	var lift []*privacy.Service
	for i := range r.Tasks {
		task := &r.Tasks[i]
		if task.Action == privacy.ActionRestrict && (task.Status == privacy.TaskDone || task.Status == privacy.TaskRunning || task.Status == privacy.TaskWaiting) {
			if svc := t.Service(task.Service); svc != nil && svc.Supports(privacy.ActionLiftRestriction) {
				lift = append(lift, svc)
			}
		}
		if !task.Status.Terminal() && task.Status != privacy.TaskRunning {
			task.Status, task.Reason, task.FinishedAt, task.UpdatedAt = privacy.TaskCancelled, "the request was cancelled", now, now
		}
	}
	for _, svc := range lift {
		task := s.addTask(r, svc, privacy.ActionLiftRestriction, now, time.Time{})
		if err := s.taskMessage(r, task, now, ""); err != nil {
			return err
		}
	}
	r.SetWake(s.cfg.TaskLease)
	return nil
}

// redriveTasks re-publishes the tasks of r that should have moved by now: a
// running task whose claim ran out (its worker died), a pending one whose
// message never came, or a waiting one whose service did not answer by
// AnswerBy (its callback was lost, or never sent): that one is called again
// with the same Idempotency-Key while it has attempts left and the request's
// deadline has not passed, and fails with the reason otherwise, which may
// complete the request (once: in this write). The new message id names the
// redrive, so it is not taken for a duplicate of the lost one.
func (s *Service) redriveTasks(ctx context.Context, t *privacy.Tenant, r *privacy.Request) error {
	r, err := s.update(ctx, r, func(r *privacy.Request) error {
		now := s.now()
		n, failed := 0, 0
		for i := range r.Tasks {
			task := &r.Tasks[i]
			if w := task.Wake(s.cfg.TaskLease); w.IsZero() || w.After(now) {
				continue
			}
			if task.Status == privacy.TaskWaiting {
				if task.Attempts >= s.cfg.TaskMaxAttempts || (!r.Due.At.IsZero() && !now.Before(r.Due.At)) {
					task.Status = privacy.TaskRunning // settle records the outcome of a run
					s.settle(t, r, task, now, privacy.ConnectorResult{}, fmt.Errorf("%w: the service accepted the task but sent no result within %s, after %d calls",
						ErrPermanent, s.cfg.CallbackTimeout, task.Attempts))
					failed++
					continue
				}
				task.Reason = fmt.Sprintf("called again: no result within %s", s.cfg.CallbackTimeout)
				task.Status, task.AnswerBy, task.NotBefore = privacy.TaskPending, time.Time{}, time.Time{}
			}
			if task.Status == privacy.TaskRunning {
				task.Status, task.LeaseUntil = privacy.TaskPending, time.Time{}
			}
			task.UpdatedAt = now
			if err := s.taskMessage(r, task, now, ".w"+strconv.FormatInt(now.Unix(), 36)); err != nil {
				return err
			}
			n++
		}
		if n+failed == 0 {
			return errStale
		}
		r.SetWake(s.cfg.TaskLease)
		if n > 0 {
			s.audit(r, now, "system", "tasks.redriven", map[string]string{"tasks": strconv.Itoa(n)})
		}
		return nil
	})
	if errors.Is(err, errStale) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("redrive tasks: %w", err)
	}
	s.flushQuietly(ctx, r)
	return nil
}
