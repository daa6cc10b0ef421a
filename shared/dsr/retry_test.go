package dsr_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

func TestTransientFailureIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	f.conn.on("crm", privacy.ActionErase, transient, done)
	r := f.approved(t, privacy.TypeErase)
	taskID := r.Tasks[0].ID
	if ids := f.drain(t); !cmp.Equal(ids, []string{taskID + "#0"}) {
		t.Fatalf("ran %v", ids)
	}
	r = f.get(t, r.ID)
	task := r.Tasks[0]
	base := 30 * time.Second // the default RetryBase
	if wait := task.NotBefore.Sub(f.clock.Now()); wait < base/2 || wait > base {
		t.Errorf("retry in %s, want within [%s, %s]", wait, base/2, base)
	}
	if task.Status != privacy.TaskPending || task.Attempts != 1 || task.Reason != "retrying after a transient failure: the service answered 503" {
		t.Errorf("task %+v", task)
	}
	if visible, delayed := f.queued(t); visible != 0 || delayed != 1 {
		t.Errorf("tasks queue: %d visible, %d scheduled; want the retry scheduled", visible, delayed)
	}
	f.clock.Add(task.NotBefore.Sub(f.clock.Now()))
	if ids := f.drain(t); !cmp.Equal(ids, []string{taskID + "#1"}) {
		t.Errorf("ran %v, want the retry under a new message id", ids)
	}
	if r = f.get(t, r.ID); r.Status != privacy.StatusCompleted || r.Tasks[0].Attempts != 2 {
		t.Errorf("status %s after %d attempts", r.Status, r.Tasks[0].Attempts)
	}
}

func TestGivingUpAndRetrying(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// before runs after the approval, before any task message is handled
		before     func(f *taskFixture, r *privacy.Request)
		wantReason string
		wantErases int
	}{
		{"after the maximum attempts", func(*taskFixture, *privacy.Request) {},
			"gave up after 3 attempts within the deadline: the service answered 503", 3},
		{"when the next attempt would pass the deadline", func(f *taskFixture, r *privacy.Request) {
			f.clock.Add(r.Due.At.Add(-10 * time.Second).Sub(f.clock.Now()))
		}, "gave up after 1 attempts within the deadline: the service answered 503", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t, func(c *dsr.Config) { c.TaskMaxAttempts = 3 })
			f.setGrace(t, "acme", 0)
			f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile), webhook("billing", eraseActions, privacy.CategoryBilling))
			f.conn.on("crm", privacy.ActionErase, transient)
			r := f.approved(t, privacy.TypeErase)
			tc.before(f, r)
			r = f.untilSettled(t, r.ID)
			want := []taskLine{{"crm.erase", "failed", tc.wantReason}, {"billing.erase", "done", ""}}
			if diff := cmp.Diff(want, shortLines(r)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if r.Status != privacy.StatusPartiallyCompleted || f.conn.count("crm", privacy.ActionErase) != tc.wantErases {
				t.Errorf("status %s after %d erase calls", r.Status, f.conn.count("crm", privacy.ActionErase))
			}
			if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticePartial: 1}, f.countNotices(t)); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
			if tc.wantErases == 1 {
				return // the deadline has passed: a retry could not help within it
			}

			// An admin retries the failed task: the request reopens for a round
			// that meets one more transient failure, then succeeds.
			f.clock.Add(5 * time.Minute)
			f.conn.on("crm", privacy.ActionErase, transient, done)
			reopened, err := f.svc.RetryTasks(ctx, "acme", r.ID, "", dsr.Actor{Admin: admin})
			if err != nil {
				t.Fatal(err)
			}
			if reopened.Status != privacy.StatusInProgress || reopened.Round != r.Round+1 {
				t.Errorf("retry: status %s, round %d; want in-progress, round %d", reopened.Status, reopened.Round, r.Round+1)
			}
			r = f.untilSettled(t, r.ID)
			if r.Status != privacy.StatusCompleted {
				t.Fatalf("after the retry: status %s, tasks %+v", r.Status, lines(r))
			}
			audit := f.countAudit(t)
			if audit["request.partially-completed"] != 1 || audit["request.completed"] != 1 {
				t.Errorf("audit %v: want one partial and one full completion", audit)
			}
			if diff := cmp.Diff(map[string]int{privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
				t.Errorf("notices after the retry (-want +got):\n%s", diff)
			}
			if _, err := f.svc.RetryTasks(ctx, "acme", r.ID, "", dsr.Actor{Admin: admin}); code(err) != "not-retryable" {
				t.Errorf("retry of a completed request: %v", err)
			}
		})
	}
}

func TestPermanentFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		kind       privacy.ConnectorKind
		answer     step
		wantReason string
	}{
		{"the service refuses", privacy.KindWebhook, permanent, "the service refused the call: account locked"},
		{"the connector gives no outcome", privacy.KindWebhook, step{}, "the connector gave no outcome"},
		{"no connector of the kind is deployed", privacy.KindCosmos, done, "no cosmos connector is configured in this deployment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			f.setGrace(t, "acme", 0)
			f.addServices(t, svcDef{"crm", tc.kind, eraseActions, []privacy.Category{privacy.CategoryProfile}})
			f.conn.on("crm", privacy.ActionErase, tc.answer)
			r := f.approved(t, privacy.TypeErase)
			f.drain(t)
			r = f.get(t, r.ID)
			if diff := cmp.Diff([]taskLine{{"crm.erase", "failed", tc.wantReason}}, shortLines(r)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if r.Status != privacy.StatusPartiallyCompleted || r.Tasks[0].Attempts != 1 {
				t.Errorf("status %s after %d attempts; want partially-completed after 1", r.Status, r.Tasks[0].Attempts)
			}
			if visible, delayed := f.queued(t); visible+delayed != 0 {
				t.Errorf("%d task messages left: a permanent failure is not retried", visible+delayed)
			}
		})
	}
}

func TestTooManyDeliveriesFailTheTask(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	r := f.approved(t, privacy.TypeErase)
	m := f.receive(t)
	if err := f.svc.RunTask(ctx, m.ev, m.data, 9); err != nil { // the default maximum is 8
		t.Fatal(err)
	}
	r = f.get(t, r.ID)
	want := []taskLine{{"crm.erase", "failed", "the task message was delivered 9 times without an answer"}}
	if diff := cmp.Diff(want, shortLines(r)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if f.conn.count("crm", privacy.ActionErase) != 0 || r.Status != privacy.StatusPartiallyCompleted {
		t.Errorf("status %s, %d calls", r.Status, f.conn.count("crm", privacy.ActionErase))
	}
}

// TestStrippedRequestIsNotRetried: once a retention sweep removed a closed
// request's personal data, a retry of its failed tasks would ask the services
// about nobody; it is refused and changes nothing.
func TestStrippedRequestIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t, func(c *dsr.Config) { c.TaskMaxAttempts = 1 })
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	f.conn.on("crm", privacy.ActionErase, transient)
	r := f.untilSettled(t, f.approved(t, privacy.TypeErase).ID)
	if r.Status != privacy.StatusPartiallyCompleted {
		t.Fatalf("status %s", r.Status)
	}
	r.Subject, r.StrippedAt = privacy.Subject{}, f.clock.Now()
	if err := f.store.UpdateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	before := r.ETag
	if _, err := f.svc.RetryTasks(ctx, "acme", r.ID, "", dsr.Actor{Admin: admin}); code(err) != "request-stripped" {
		t.Errorf("retry of a stripped request: %v", err)
	}
	after, err := f.store.GetRequest(ctx, "acme", r.ID)
	if err != nil || after.ETag != before || after.Status != privacy.StatusPartiallyCompleted {
		t.Errorf("the refused retry changed the request: %v %+v", err, after)
	}
}
