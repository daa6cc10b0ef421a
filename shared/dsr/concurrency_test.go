package dsr_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

func TestDuplicateDeliveriesCallEachServiceOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		deliver func(f *taskFixture, m *delivery) []error
	}{
		{"three times in a row", func(f *taskFixture, m *delivery) []error {
			var errs []error
			for range 3 {
				errs = append(errs, f.handle(m))
			}
			return errs
		}},
		{"three times at once", func(f *taskFixture, m *delivery) []error {
			errs := make([]error, 3)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() { errs[i] = f.handle(m) })
			}
			wg.Wait()
			return errs
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			f.setGrace(t, "acme", 0)
			f.addServices(t,
				webhook("crm", eraseActions, privacy.CategoryProfile),
				webhook("billing", eraseActions, privacy.CategoryBilling),
				webhook("support", eraseActions, privacy.CategoryContent))
			r := f.approved(t, privacy.TypeErase)
			for m := f.receive(t); m != nil; m = f.receive(t) {
				for _, err := range tc.deliver(f, m) {
					if err != nil {
						t.Errorf("delivery of %s: %v", m.d.ID, err)
					}
				}
				f.complete(t, m)
			}
			r = f.get(t, r.ID)
			if r.Status != privacy.StatusCompleted || len(r.Outbox) != 0 {
				t.Fatalf("status %s with %d outbox events; tasks %+v", r.Status, len(r.Outbox), lines(r))
			}
			if diff := cmp.Diff(map[string]int{"crm/erase": 1, "billing/erase": 1, "support/erase": 1}, f.conn.total()); diff != "" {
				t.Errorf("connector calls (-want +got):\n%s", diff)
			}
			audit := f.countAudit(t)
			if audit["request.completed"] != 1 || audit["task.done"] != 3 || audit[dsr.ActionTombstone] != 3 {
				t.Errorf("audit %v: want one completion, three task.done and three tombstones", audit)
			}
			if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConcurrentTasksOfOneRequest(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t,
		webhook("crm", eraseActions, privacy.CategoryProfile),
		webhook("billing", eraseActions, privacy.CategoryBilling),
		webhook("support", eraseActions, privacy.CategoryContent),
		webhook("analytics", eraseActions, privacy.CategoryUsage))
	r := f.approved(t, privacy.TypeErase)
	msgs := f.receiveAll(t)
	if len(msgs) != 4 {
		t.Fatalf("%d task messages, want 4", len(msgs))
	}
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() { errs[i] = f.handle(m) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("task message %s: %v", msgs[i].d.ID, err)
		}
		f.complete(t, msgs[i])
	}
	r = f.get(t, r.ID)
	want := []taskLine{{"crm.erase", "done", ""}, {"billing.erase", "done", ""}, {"support.erase", "done", ""}, {"analytics.erase", "done", ""}}
	if diff := cmp.Diff(want, shortLines(r)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if r.Status != privacy.StatusCompleted || len(r.Outbox) != 0 {
		t.Errorf("status %s with %d outbox events left", r.Status, len(r.Outbox))
	}
	audit := f.countAudit(t)
	if audit["request.completed"] != 1 || audit["task.done"] != 4 || audit[dsr.ActionTombstone] != 4 {
		t.Errorf("audit %v: want one completion, four task.done and four tombstones", audit)
	}
	if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}

// crash is what the durable-step hook panics with to stop "the process".
type crash struct{ step string }

func TestRedriveAfterACrash(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		step      string // the worker dies right after this step
		wantCalls int    // erase calls in all
	}{
		{"after the claim, before the service was called", "task-claimed", 1},
		{"after the service answered, before the result was recorded", "task-executed", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			f.setGrace(t, "acme", 0)
			f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
			r := f.approved(t, privacy.TypeErase)
			m := f.receive(t)
			f.setStep(func(name string) {
				if name == tc.step {
					panic(crash{name})
				}
			})
			func() {
				defer func() {
					if p := recover(); p != (crash{tc.step}) {
						t.Fatalf("recovered %v, want the crash", p)
					}
				}()
				_ = f.handle(m)
			}()
			f.setStep(nil)
			f.complete(t, m) // the message is gone with the worker
			if got := f.get(t, r.ID); got.Tasks[0].Status != privacy.TaskRunning {
				t.Fatalf("task %s after the crash, want running", got.Tasks[0].Status)
			}
			// Inside the lease the watch leaves the claim alone.
			if n, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil || n != 0 {
				t.Errorf("early redrive: %d, %v", n, err)
			}
			if visible, delayed := f.queued(t); visible+delayed != 0 {
				t.Fatal("a message appeared inside the lease")
			}
			f.clock.Add(5*time.Minute + time.Minute + time.Second) // TaskLease + OutboxLease
			if n, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil || n == 0 {
				t.Fatalf("redrive: %d, %v", n, err)
			}
			ids := f.drain(t)
			if len(ids) != 1 || !strings.HasPrefix(ids[0], r.Tasks[0].ID+"#1.w") {
				t.Errorf("redriven messages %v", ids)
			}
			if r = f.get(t, r.ID); r.Status != privacy.StatusCompleted || r.Tasks[0].Status != privacy.TaskDone {
				t.Errorf("status %s, task %s", r.Status, r.Tasks[0].Status)
			}
			if got := f.conn.count("crm", privacy.ActionErase); got != tc.wantCalls {
				t.Errorf("%d erase calls, want %d", got, tc.wantCalls)
			}
			if f.countAudit(t)["tasks.redriven"] != 1 {
				t.Errorf("audit %v: want one tasks.redriven", f.countAudit(t))
			}
		})
	}
}

// A result recorded while another write lands on the request (another task
// of it settling) is recorded once, and the committed outbox is flushed at
// once: no phantom audit entries, no completion left to the watch.
func TestTaskRecordedUnderAConcurrentWrite(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	r := f.approved(t, privacy.TypeErase)
	f.writeBetween(t, "task-executed", r.ID) // another writer lands at that step
	f.drain(t)
	f.setStep(nil)
	if got := f.get(t, r.ID); got.Status != privacy.StatusCompleted || len(got.Outbox) != 0 {
		t.Errorf("status %s with %d outbox events left", got.Status, len(got.Outbox))
	}
	if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
		t.Errorf("notices before the watch ran (-want +got):\n%s", diff)
	}
	f.clock.Add(2 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	audit := f.countAudit(t)
	if audit["task.done"] != 1 || audit[dsr.ActionTombstone] != 1 || audit["request.completed"] != 1 {
		t.Errorf("audit %v: want one task.done, one tombstone, one completion", audit)
	}
}
