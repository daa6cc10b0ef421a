package dsr_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

func TestAnswerLater(t *testing.T) {
	t.Parallel()
	t.Run("a webhook that answers 202 completes through its callback", func(t *testing.T) {
		t.Parallel()
		f := newTaskFixture(t)
		f.setGrace(t, "acme", 0)
		f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
		f.conn.on("crm", privacy.ActionErase, accepted)
		r := f.approved(t, privacy.TypeErase)
		taskID := r.Tasks[0].ID
		f.drain(t)
		if r = f.get(t, r.ID); r.Tasks[0].Status != privacy.TaskWaiting || r.Status != privacy.StatusInProgress {
			t.Fatalf("after 202: task %s, request %s", r.Tasks[0].Status, r.Status)
		}
		first, err := f.svc.Target(ctx, "acme", r.ID, taskID)
		if err != nil {
			t.Fatal(err)
		}
		replay, _ := f.svc.Target(ctx, "acme", r.ID, taskID) // read before the first answer lands
		task, err := f.svc.CompleteTask(ctx, first, dsr.Result{Outcome: privacy.OutcomeDone, Items: 5}, dsr.Actor{})
		if err != nil || task.Status != privacy.TaskDone || task.Items != 5 {
			t.Fatalf("complete: %+v, %v", task, err)
		}
		after := f.get(t, r.ID)
		if after.Status != privacy.StatusCompleted {
			t.Fatalf("status %s after the last answer", after.Status)
		}
		auditBefore := f.countAudit(t)
		for _, tg := range []*dsr.TaskTarget{replay, mustTarget(t, f, r.ID, taskID)} {
			task, err := f.svc.CompleteTask(ctx, tg, dsr.Result{Outcome: privacy.OutcomeHeld, Reason: "replayed"}, dsr.Actor{})
			if err != nil || task == nil {
				t.Errorf("replayed answer: %+v, %v", task, err)
			}
		}
		if got := f.get(t, r.ID); got.ETag != after.ETag {
			t.Error("a replayed answer changed the request")
		}
		if diff := cmp.Diff(auditBefore, f.countAudit(t)); diff != "" {
			t.Errorf("a replayed answer was audited (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
			t.Errorf("notices (-want +got):\n%s", diff)
		}
	})
	t.Run("an answer for a task that is not waiting is a conflict", func(t *testing.T) {
		t.Parallel()
		f := newTaskFixture(t)
		f.setGrace(t, "acme", 0)
		f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
		r := f.approved(t, privacy.TypeErase) // pending: its message is not handled yet
		_, err := f.svc.CompleteTask(ctx, mustTarget(t, f, r.ID, r.Tasks[0].ID), dsr.Result{Outcome: privacy.OutcomeDone}, dsr.Actor{})
		if c, kind := userCode(err); c != "task-not-waiting" || kind != privacy.KindConflict {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a manual task is completed by an admin with a note and evidence", func(t *testing.T) {
		t.Parallel()
		f := newTaskFixture(t)
		f.setGrace(t, "acme", 0)
		f.addServices(t, svcDef{"paper", privacy.KindManual, eraseActions, []privacy.Category{privacy.CategoryProfile}})
		f.conn.on("paper", privacy.ActionErase, accepted)
		r := f.approved(t, privacy.TypeErase)
		f.drain(t)
		taskID := r.Tasks[0].ID
		if _, err := f.svc.CompleteManual(ctx, "acme", r.ID, taskID, dsr.Result{Outcome: privacy.OutcomeDone}, nil, dsr.Actor{Admin: admin}); code(err) != "note-required" {
			t.Errorf("without a note: %v", err)
		}
		task, err := f.svc.CompleteManual(ctx, "acme", r.ID, taskID, dsr.Result{Outcome: privacy.OutcomeDone, Items: 1, Note: "shredded the paper file"},
			[]byte("photo"), dsr.Actor{Admin: admin})
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != privacy.TaskDone || task.By != "admin:"+admin || task.Note != "shredded the paper file" || task.Evidence == "" {
			t.Errorf("task %+v", task)
		}
		if _, _, err := f.blobs.Open(ctx, task.Evidence); err != nil {
			t.Errorf("evidence: %v", err)
		}
		if r = f.get(t, r.ID); r.Status != privacy.StatusCompleted {
			t.Errorf("status %s", r.Status)
		}
	})
}

func mustTarget(tb testing.TB, f *taskFixture, requestID, taskID string) *dsr.TaskTarget {
	tb.Helper()
	tg, err := f.svc.Target(ctx, "acme", requestID, taskID)
	if err != nil {
		tb.Fatal(err)
	}
	return tg
}

func TestTaskMessageOfAnotherTenantChangesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tenant string
		task   func(r *privacy.Request) string
	}{
		{"another tenant names the request", "globex", func(r *privacy.Request) string { return r.Tasks[0].ID }},
		{"an unknown tenant", "nobody", func(r *privacy.Request) string { return r.Tasks[0].ID }},
		{"an unknown task", "acme", func(r *privacy.Request) string { return r.ID + ".crm.export" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			f.setGrace(t, "acme", 0)
			f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
			r := f.approved(t, privacy.TypeErase)
			before := f.get(t, r.ID)
			ev, data := eventFor(t, tc.tenant, r.ID, tc.task(r))
			if err := f.svc.RunTask(ctx, ev, data, 1); !errors.Is(err, dsr.ErrPermanent) {
				t.Errorf("got %v, want ErrPermanent", err)
			}
			if err := f.svc.BuildPackage(ctx, ev, data); tc.tenant != "acme" && !errors.Is(err, dsr.ErrPermanent) {
				t.Errorf("package: got %v, want ErrPermanent", err)
			}
			if after := f.get(t, r.ID); after.ETag != before.ETag {
				t.Error("the request changed")
			}
			if len(f.conn.total()) != 0 {
				t.Errorf("connector called: %v", f.conn.total())
			}
		})
	}
}

func TestTaskLogsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile), webhook("billing", eraseActions, privacy.CategoryBilling))
	f.conn.on("crm", privacy.ActionErase, permanent)
	r := f.approved(t, privacy.TypeErase)
	msgs := f.receiveAll(t)
	f.pub.mu.Lock()
	f.pub.Fail = true // every flush after a task write is deferred, and logged
	f.pub.mu.Unlock()
	for _, m := range msgs {
		if err := f.handle(m); err != nil {
			t.Fatal(err)
		}
		f.complete(t, m)
	}
	f.pub.mu.Lock()
	f.pub.Fail = false
	f.pub.mu.Unlock()
	f.clock.Add(2 * time.Minute)
	if _, _, _, err := f.svc.Redrive(ctx, "acme", time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	f.notices(t)
	if r = f.get(t, r.ID); r.Status != privacy.StatusPartiallyCompleted || len(r.Outbox) != 0 {
		t.Errorf("status %s, %d outbox events", r.Status, len(r.Outbox))
	}
	if !strings.Contains(f.logs.String(), "outbox flush deferred") {
		t.Fatalf("expected the deferred flushes in the logs:\n%s", f.logs.String())
	}
	// The fixture's cleanup checks the logs for the subject's identifiers.
}

// TestEvidenceIsImmutable: completing an ended manual task again neither
// replaces its recorded evidence file nor changes the task (issue 15, item 5).
func TestEvidenceIsImmutable(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, svcDef{"paper", privacy.KindManual, eraseActions, []privacy.Category{privacy.CategoryProfile}})
	f.conn.on("paper", privacy.ActionErase, accepted)
	r := f.approved(t, privacy.TypeErase)
	f.drain(t)
	taskID := r.Tasks[0].ID
	first, err := f.svc.CompleteManual(ctx, "acme", r.ID, taskID, dsr.Result{Outcome: privacy.OutcomeDone, Items: 1, Note: "shredded"},
		[]byte("the first photo"), dsr.Actor{Admin: admin})
	if err != nil {
		t.Fatal(err)
	}
	before, audit := f.get(t, r.ID), f.countAudit(t)
	_, err = f.svc.CompleteManual(ctx, "acme", r.ID, taskID, dsr.Result{Outcome: privacy.OutcomeDone, Items: 2, Note: "again"},
		[]byte("another photo"), dsr.Actor{Admin: "mallory"})
	if c, kind := userCode(err); c != "task-ended" || kind != privacy.KindConflict {
		t.Errorf("completing an ended task: %v", err)
	}
	rc, _, err := f.blobs.Open(ctx, first.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "the first photo" {
		t.Errorf("the recorded evidence now reads %q", got)
	}
	if after := f.get(t, r.ID); after.ETag != before.ETag {
		t.Error("the second completion changed the request")
	}
	if diff := cmp.Diff(audit, f.countAudit(t)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// TestConcurrentCompletionsKeepOneEvidence: completions of one manual task
// racing each other record one of them; the others are refused and leave no
// file behind, so the recorded evidence is never replaced (issue 15, item 5).
func TestConcurrentCompletionsKeepOneEvidence(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, svcDef{"paper", privacy.KindManual, eraseActions, []privacy.Category{privacy.CategoryProfile}})
	f.conn.on("paper", privacy.ActionErase, accepted)
	r := f.approved(t, privacy.TypeErase)
	f.drain(t)
	const n = 8
	var wg sync.WaitGroup
	results := make([]error, n)
	tasks := make([]*privacy.Task, n)
	for i := range n {
		wg.Go(func() {
			tasks[i], results[i] = f.svc.CompleteManual(ctx, "acme", r.ID, r.Tasks[0].ID,
				dsr.Result{Outcome: privacy.OutcomeDone, Note: fmt.Sprintf("admin %d", i)}, []byte(fmt.Sprintf("photo %d", i)), dsr.Actor{Admin: fmt.Sprintf("a%d", i)})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch c, _ := userCode(err); {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("completions %d and %d both succeeded", winner, i)
		case c != "task-ended":
			t.Errorf("completion %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no completion succeeded")
	}
	got := f.get(t, r.ID).Tasks[0]
	rc, _, err := f.blobs.Open(ctx, got.Evidence)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if want := fmt.Sprintf("photo %d", winner); string(body) != want || got.Note != fmt.Sprintf("admin %d", winner) {
		t.Errorf("recorded %q with note %q, want the winner's %q", body, got.Note, want)
	}
	var files []string
	_ = filepath.WalkDir(f.blobDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "evidence") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Errorf("evidence files left: %v", files)
	}
}
