package dsr_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// These tests ask, for each state a task can be in, what moves it on when
// the expected event never comes (issue 15, item 1: a 202 task can wait for
// ever).

// TestEarlyCallbackIsTheResult: a service that answers 202 and posts its
// callback at once lands it while the task is still running (claimed, the
// 202 not yet recorded). The callback is the result; the worker's own write
// then changes nothing, and the request completes once.
func TestEarlyCallbackIsTheResult(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	var answerErr error
	postAtOnce := accepted
	postAtOnce.during = func(call privacy.ConnectorCall) {
		tg, err := f.svc.Target(ctx, call.TenantID, call.RequestID, call.TaskID)
		if err == nil {
			if tg.Task.Status != privacy.TaskRunning {
				t.Errorf("the callback landed on a %s task, want running", tg.Task.Status)
			}
			_, err = f.svc.CompleteTask(ctx, tg, dsr.Result{Outcome: privacy.OutcomeDone, Items: 3}, dsr.Actor{})
		}
		answerErr = err
	}
	f.conn.on("crm", privacy.ActionErase, postAtOnce)
	r := f.approved(t, privacy.TypeErase)
	f.drain(t)
	if answerErr != nil {
		t.Fatalf("the early callback: %v", answerErr)
	}
	r = f.get(t, r.ID)
	if diff := cmp.Diff([]taskLine{{"crm.erase", "done", ""}}, shortLines(r)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if r.Status != privacy.StatusCompleted || r.Tasks[0].Items != 3 || !r.WakeAt.IsZero() {
		t.Errorf("request %s, items %d, wake %v", r.Status, r.Tasks[0].Items, r.WakeAt)
	}
	audit := f.countAudit(t)
	if audit["task.done"] != 1 || audit["task.waiting"] != 0 || audit["request.completed"] != 1 {
		t.Errorf("audit %v", audit)
	}
}

// TestWaitingTaskIsCalledAgainThenFails: a service that answers 202 and
// never posts (its callback job was lost) is called again with the same
// task after TASK_CALLBACK_TIMEOUT, and once its attempts are spent the task
// fails with the reason and the request completes partially, once.
func TestWaitingTaskIsCalledAgainThenFails(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t, func(c *dsr.Config) { c.CallbackTimeout, c.TaskMaxAttempts = time.Hour, 2 })
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile), webhook("billing", eraseActions, privacy.CategoryProfile))
	f.conn.on("crm", privacy.ActionErase, accepted)
	r := f.approved(t, privacy.TypeErase)
	f.drain(t)
	r = f.get(t, r.ID)
	if got := r.Tasks[0]; got.Status != privacy.TaskWaiting || !got.AnswerBy.Equal(f.clock.Now().Add(time.Hour)) || !r.WakeAt.Equal(got.AnswerBy) {
		t.Fatalf("after 202: %s, answer by %v, wake %v", got.Status, got.AnswerBy, r.WakeAt)
	}
	// Before the timeout the watch leaves it alone.
	f.clock.Add(59 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	if n := len(f.receiveAll(t)); n != 0 {
		t.Fatalf("%d messages before the timeout", n)
	}
	// After it (and the watch's lease), called again.
	f.clock.Add(3 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t, r.ID).Tasks[0]; got.Status != privacy.TaskPending || got.Reason != "called again: no result within 1h0m0s" {
		t.Fatalf("after the timeout: %s %q", got.Status, got.Reason)
	}
	f.drain(t)
	if n := f.conn.count("crm", privacy.ActionErase); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
	// The attempts are spent: the next timeout fails the task.
	f.clock.Add(65 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	r = f.get(t, r.ID)
	want := []taskLine{{"billing.erase", "done", ""},
		{"crm.erase", "failed", "the service accepted the task but sent no result within 1h0m0s, after 2 calls"}}
	if diff := cmp.Diff(want, sortedLines(r)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if r.Status != privacy.StatusPartiallyCompleted || !r.WakeAt.IsZero() {
		t.Errorf("request %s, wake %v", r.Status, r.WakeAt)
	}
	// Once: a later watch changes nothing.
	f.clock.Add(2 * time.Hour)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	audit := f.countAudit(t)
	if audit["request.partially-completed"] != 1 || audit["task.failed"] != 1 || audit["tasks.redriven"] != 1 {
		t.Errorf("audit %v", audit)
	}
	if n := f.countNotices(t)[privacy.NoticePartial]; n != 1 {
		t.Errorf("%d partial-completion notices", n)
	}
}

// TestCallbackAfterTheRecall: the answer of the first call, late, is still
// the task's result after the task was called again.
func TestCallbackAfterTheRecall(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t, func(c *dsr.Config) { c.CallbackTimeout = time.Hour })
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	f.conn.on("crm", privacy.ActionErase, accepted)
	r := f.approved(t, privacy.TypeErase)
	f.drain(t)
	f.clock.Add(65 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	task, err := f.svc.CompleteTask(ctx, mustTarget(t, f, r.ID, r.Tasks[0].ID), dsr.Result{Outcome: privacy.OutcomeDone}, dsr.Actor{})
	if err != nil || task.Status != privacy.TaskDone {
		t.Fatalf("the late answer while called again: %+v %v", task, err)
	}
	f.drain(t) // the re-call's message finds the task ended
	if n := f.conn.count("crm", privacy.ActionErase); n != 1 {
		t.Errorf("%d calls after the answer came, want 1", n)
	}
	if got := f.get(t, r.ID); got.Status != privacy.StatusCompleted {
		t.Errorf("request %s", got.Status)
	}
}

// TestAdminRetriesAWaitingTask: an admin can call a waiting task's service
// again by naming the task; retrying every failed task leaves waiting ones.
func TestAdminRetriesAWaitingTask(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	f.conn.on("crm", privacy.ActionErase, accepted, done)
	r := f.approved(t, privacy.TypeErase)
	f.drain(t)
	if _, err := f.svc.RetryTasks(ctx, "acme", r.ID, "", dsr.Actor{Admin: admin}); code(err) != "nothing-to-retry" {
		t.Errorf("retry all with a waiting task: %v", err)
	}
	if _, err := f.svc.RetryTasks(ctx, "acme", r.ID, r.Tasks[0].ID, dsr.Actor{Admin: admin}); err != nil {
		t.Fatalf("retry the waiting task: %v", err)
	}
	f.drain(t)
	if got := f.get(t, r.ID); got.Status != privacy.StatusCompleted || got.Tasks[0].Status != privacy.TaskDone {
		t.Errorf("request %s, task %s", got.Status, got.Tasks[0].Status)
	}
	if n := f.conn.count("crm", privacy.ActionErase); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
}

// sortedLines is shortLines in task-id order.
func sortedLines(r *privacy.Request) []taskLine {
	out := shortLines(r)
	slices.SortFunc(out, func(a, b taskLine) int { return strings.Compare(a.ID, b.ID) })
	return out
}
