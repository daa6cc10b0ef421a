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

func TestLegalHoldDefersErasure(t *testing.T) {
	t.Parallel()
	const reason = "litigation hold, case 2030-17"
	held := string(privacy.TaskHeld)
	cases := []struct {
		name       string
		hold       dsr.HoldInput
		want       []taskLine
		wantStatus privacy.Status
		wantMail   []string // lines of the completion mail
	}{
		{
			name: "a subject hold keeps the data at every service",
			hold: dsr.HoldInput{Scope: privacy.HoldSubject, Email: " Ada.Lovelace@Example.com ", Reason: reason, Category: privacy.HoldLegalClaims},
			want: []taskLine{{"crm.erase", held, "legal hold: " + reason}, {"billing.erase", held, "legal hold: " + reason}},
			wantMail: []string{
				"Your erase request has been carried out in part.",
				"- Crm: not erased yet: kept for now, because it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e)). This is deferred, not refused",
				"- Billing: not erased yet: kept for now, because it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e)).",
			},
			wantStatus: privacy.StatusPartiallyCompleted,
		},
		{
			name:       "a service hold keeps the data at that service only",
			hold:       dsr.HoldInput{Scope: privacy.HoldService, Service: "billing", Reason: reason, Category: privacy.HoldLegalObligation},
			want:       []taskLine{{"crm.erase", "done", ""}, {"billing.erase", held, "legal hold: " + reason}},
			wantMail:   []string{"carried out in part", "- Crm: erased", "- Billing: not erased yet: kept for now, because the law requires us to keep it (GDPR Art. 17(3)(b))."},
			wantStatus: privacy.StatusPartiallyCompleted,
		},
		{
			name:       "a hold on another subject changes nothing",
			hold:       dsr.HoldInput{Scope: privacy.HoldSubject, Email: "someone@else.example", Reason: reason, Category: privacy.HoldLegalClaims},
			want:       []taskLine{{"crm.erase", "done", ""}, {"billing.erase", "done", ""}},
			wantMail:   []string{"Your erase request has been carried out.", "- Crm: erased", "- Billing: erased"},
			wantStatus: privacy.StatusCompleted,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			f.setGrace(t, "acme", 0)
			f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile), webhook("billing", eraseActions, privacy.CategoryBilling))
			h, err := f.svc.PlaceHold(ctx, "acme", tc.hold, dsr.Actor{Admin: admin})
			if err != nil {
				t.Fatal(err)
			}
			r := f.untilSettled(t, f.approved(t, privacy.TypeErase).ID)
			if diff := cmp.Diff(tc.want, shortLines(r)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if r.Status != tc.wantStatus {
				t.Errorf("status %s, want %s", r.Status, tc.wantStatus)
			}
			f.notices(t)
			mails := f.mail.Mails()
			last := mails[len(mails)-1]
			for _, line := range tc.wantMail {
				if !strings.Contains(last.Text, line) {
					t.Errorf("the completion mail lacks %q:\n%s", line, last.Text)
				}
			}
			if last.To != subjectEmail {
				t.Errorf("completion mail to %q", last.To)
			}
			// The admin's hold text is internal: the subject never sees it.
			if strings.Contains(last.Text, reason) || strings.Contains(last.Text, "legal hold") {
				t.Errorf("the mail carries the internal hold text:\n%s", last.Text)
			}
			if tc.wantStatus == privacy.StatusCompleted {
				return
			}
			// A hold defers the erasure: releasing it starts the held
			// tasks again, the subject is told, and the request completes
			// (issue 15, item 2).
			if _, err := f.svc.ReleaseHold(ctx, "acme", h.ID, dsr.Actor{Admin: admin}); err != nil {
				t.Fatal(err)
			}
			r = f.untilSettled(t, r.ID)
			if r.Status != privacy.StatusCompleted || slices.ContainsFunc(r.Tasks, func(task privacy.Task) bool { return task.Status != privacy.TaskDone }) {
				t.Errorf("after the release: %s %v", r.Status, shortLines(r))
			}
			wantNotices := map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticePartial: 1,
				privacy.NoticeResumed: 1, privacy.NoticeCompleted: 1}
			f.notices(t)
			gotNotices := map[string]int{}
			for _, n := range f.get(t, r.ID).Notices {
				gotNotices[n.Type]++
			}
			if diff := cmp.Diff(wantNotices, gotNotices); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
			audit := f.countAudit(t)
			if audit["tasks.resumed"] != 1 || audit["hold.erasures-resumed"] != 1 || audit["request.completed"] != 1 || audit["request.partially-completed"] != 1 {
				t.Errorf("audit %v", audit)
			}
			// Nothing is left for the watch, and a retry finds nothing.
			if n, err := f.svc.ResumeReleased(ctx, mustTenant(t, f)); err != nil || n != 0 {
				t.Errorf("the watch after a full release: %d, %v", n, err)
			}
		})
	}
}

func mustTenant(tb testing.TB, f *taskFixture) *privacy.Tenant {
	tb.Helper()
	tn, err := f.svc.Tenant(ctx, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	return tn
}

func TestErasureGracePeriod(t *testing.T) {
	t.Parallel()
	const days = 30
	// setup: crm can restrict and lift; legacy can only erase.
	setup := func(t *testing.T) (*taskFixture, *privacy.Request) {
		f := newTaskFixture(t)
		f.setGrace(t, "acme", days)
		f.addServices(t, webhook("crm", graceActions, privacy.CategoryProfile), webhook("legacy", eraseActions, privacy.CategoryBilling))
		r := f.approved(t, privacy.TypeErase)
		if want := f.clock.Now().Add(days * 24 * time.Hour); !r.GraceUntil.Equal(want) {
			t.Fatalf("grace until %v, want %v", r.GraceUntil, want)
		}
		return f, r
	}
	afterGrace := func(f *taskFixture, r *privacy.Request) { f.clock.Add(r.GraceUntil.Sub(f.clock.Now())) }

	t.Run("restrictions run now, deletes after the grace period", func(t *testing.T) {
		t.Parallel()
		f, r := setup(t)
		f.drain(t)
		r = f.get(t, r.ID)
		want := []taskLine{{"crm.restrict", "done", ""}, {"crm.erase", "pending", ""}, {"legacy.erase", "pending", ""}}
		if diff := cmp.Diff(want, shortLines(r)); diff != "" {
			t.Errorf("inside the grace period (-want +got):\n%s", diff)
		}
		// A delete message delivered early (a queue ignoring the schedule)
		// does nothing.
		for _, task := range r.Tasks[1:] {
			ev, data := eventFor(t, "acme", r.ID, task.ID)
			if err := f.svc.RunTask(ctx, ev, data, 1); err != nil {
				t.Fatal(err)
			}
		}
		if got := f.get(t, r.ID); got.ETag != r.ETag {
			t.Error("an early delete message changed the request")
		}
		afterGrace(f, r)
		f.drain(t)
		r = f.get(t, r.ID)
		want = []taskLine{{"crm.restrict", "done", ""}, {"crm.erase", "done", ""}, {"legacy.erase", "done", ""}}
		if diff := cmp.Diff(want, shortLines(r)); diff != "" {
			t.Errorf("after the grace period (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"crm/restrict": 1, "crm/erase": 1, "legacy/erase": 1}, f.conn.total()); diff != "" {
			t.Errorf("connector calls (-want +got):\n%s", diff)
		}
		if r.Status != privacy.StatusCompleted {
			t.Errorf("status %s", r.Status)
		}
		f.notices(t)
		mails := f.mail.Mails()
		if text := mails[len(mails)-1].Text; strings.Count(text, "- Crm: erased") != 1 {
			t.Errorf("the completion mail should list crm once (the restriction is a step, not an outcome):\n%s", text)
		}
		cert, err := f.svc.CertificateOf(r)
		if err != nil || !strings.Contains(cert.Text(), "Grace period:  until") {
			t.Errorf("certificate: %v\n%s", err, cert.Text())
		}
	})

	t.Run("a hold placed inside the grace period holds the delete", func(t *testing.T) {
		t.Parallel()
		f, r := setup(t)
		f.drain(t)
		if _, err := f.svc.PlaceHold(ctx, "acme", dsr.HoldInput{Scope: privacy.HoldService, Service: "legacy", Reason: "tax audit", Category: privacy.HoldLegalObligation}, dsr.Actor{Admin: admin}); err != nil {
			t.Fatal(err)
		}
		afterGrace(f, r)
		f.drain(t)
		r = f.get(t, r.ID)
		want := []taskLine{{"crm.restrict", "done", ""}, {"crm.erase", "done", ""}, {"legacy.erase", "held", "legal hold: tax audit"}}
		if diff := cmp.Diff(want, shortLines(r)); diff != "" {
			t.Errorf("tasks (-want +got):\n%s", diff)
		}
		if r.Status != privacy.StatusPartiallyCompleted || f.conn.count("legacy", privacy.ActionErase) != 0 {
			t.Errorf("status %s, legacy erase calls %d", r.Status, f.conn.count("legacy", privacy.ActionErase))
		}
	})

	cancels := []struct {
		name          string
		restrictFirst bool
		want          []taskLine
		wantCalls     map[string]int
	}{
		{
			name: "cancel after the restriction ran lifts it", restrictFirst: true,
			want: []taskLine{
				{"crm.restrict", "done", ""}, {"crm.erase", "cancelled", "the request was cancelled"},
				{"legacy.erase", "cancelled", "the request was cancelled"}, {"crm.lift-restriction", "done", ""},
			},
			wantCalls: map[string]int{"crm/restrict": 1, "crm/lift-restriction": 1},
		},
		{
			name: "cancel before the restriction ran lifts nothing",
			want: []taskLine{
				{"crm.restrict", "cancelled", "the request was cancelled"}, {"crm.erase", "cancelled", "the request was cancelled"},
				{"legacy.erase", "cancelled", "the request was cancelled"},
			},
			wantCalls: map[string]int{},
		},
	}
	for _, tc := range cancels {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, r := setup(t)
			if tc.restrictFirst {
				f.drain(t)
			}
			f.clock.Add(24 * time.Hour)
			got, err := f.svc.Cancel(ctx, "acme", r.ID, dsr.Actor{Admin: admin}, "the subject withdrew the request")
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != privacy.StatusCancelled {
				t.Errorf("status %s", got.Status)
			}
			f.drain(t)
			afterGrace(f, r) // the scheduled deletes arrive and do nothing
			f.drain(t)
			r = f.get(t, r.ID)
			if diff := cmp.Diff(tc.want, shortLines(r)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCalls, f.conn.total()); diff != "" {
				t.Errorf("connector calls (-want +got):\n%s", diff)
			}
			if r.Status != privacy.StatusCancelled || !r.WakeAt.IsZero() {
				t.Errorf("status %s, wake at %v", r.Status, r.WakeAt)
			}
			want := map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCancelled: 1}
			if diff := cmp.Diff(want, f.countNotices(t)); diff != "" {
				t.Errorf("notices (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("cancel after a delete ran is refused", func(t *testing.T) {
		t.Parallel()
		f, r := setup(t)
		f.conn.on("legacy", privacy.ActionErase, accepted) // answers later: the request stays open
		f.drain(t)
		afterGrace(f, r)
		f.drain(t)
		before := f.get(t, r.ID)
		if before.Status != privacy.StatusInProgress || before.Tasks[1].Status != privacy.TaskDone {
			t.Fatalf("status %s, tasks %+v", before.Status, lines(before))
		}
		_, err := f.svc.Cancel(ctx, "acme", r.ID, dsr.Actor{Admin: admin}, "")
		if c, kind := userCode(err); c != "work-started" || kind != privacy.KindConflict {
			t.Errorf("got %v, want work-started (409)", err)
		}
		if after := f.get(t, r.ID); after.ETag != before.ETag {
			t.Error("a refused cancel changed the request")
		}
	})
}
