package dsr_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// heldErasure places a subject hold with category cat (none when empty:
// written to the store as an old hold would be) and settles an erasure it
// holds at crm.
func heldErasure(t *testing.T, cat privacy.HoldCategory) (*taskFixture, *privacy.Request, string) {
	t.Helper()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t, webhook("crm", eraseActions, privacy.CategoryProfile))
	in := dsr.HoldInput{Scope: privacy.HoldSubject, Email: subjectEmail, Reason: "internal: case 17, counsel J. Doe", Category: cat}
	if cat == "" {
		in.Category = privacy.HoldLegalClaims
	}
	h, err := f.svc.PlaceHold(ctx, "acme", in, dsr.Actor{Admin: admin})
	if err != nil {
		t.Fatal(err)
	}
	if cat == "" {
		f.editTenant(t, func(tn *privacy.Tenant) { tn.Holds[0].Category = "" })
	}
	r := f.untilSettled(t, f.approved(t, privacy.TypeErase).ID)
	if r.Status != privacy.StatusPartiallyCompleted || r.Tasks[0].Status != privacy.TaskHeld || r.Tasks[0].HoldID != h.ID {
		t.Fatalf("held erasure: %s %+v", r.Status, r.Tasks[0])
	}
	return f, r, h.ID
}

// editTenant changes the stored tenant as another writer (or an older
// version of the code) would, without the service's checks.
func (f *taskFixture) editTenant(tb testing.TB, change func(*privacy.Tenant)) {
	tb.Helper()
	tn, err := f.store.GetTenant(ctx, "acme")
	if err != nil {
		tb.Fatal(err)
	}
	change(tn)
	if err := f.store.UpdateTenant(ctx, tn); err != nil {
		tb.Fatal(err)
	}
}

func lastMail(tb testing.TB, f *taskFixture) string {
	tb.Helper()
	f.notices(tb)
	mails := f.mail.Mails()
	return mails[len(mails)-1].Text
}

// TestHoldNoticeTellsTheCategoryNotTheHoldText (issue 15, item 10): the
// subject is told the ground of the hold and an accurate account; the
// admin's hold text stays internal. An old hold without a category gets the
// general statement.
func TestHoldNoticeTellsTheCategoryNotTheHoldText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cat  privacy.HoldCategory
		want string
	}{
		{"legal claims", privacy.HoldLegalClaims, "- Crm: not erased yet: kept for now, because it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e))."},
		{"public interest", privacy.HoldPublicInterest, "because it is needed for a task carried out in the public interest or in the exercise of official authority (GDPR Art. 17(3)(b))."},
		{"an old hold without a category", "", "- Crm: not erased yet: kept for now, because the law allows or requires us to keep it for now (GDPR Art. 17(3))."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, _, _ := heldErasure(t, tc.cat)
			text := lastMail(t, f)
			for _, want := range []string{"Your erase request has been carried out in part. What was and was not done:", tc.want, "deferred, not refused"} {
				if !strings.Contains(text, want) {
					t.Errorf("the mail lacks %q:\n%s", want, text)
				}
			}
			for _, never := range []string{"internal", "counsel", "J. Doe", "legal hold", "has been carried out.\n"} {
				if strings.Contains(text, never) {
					t.Errorf("the mail carries %q:\n%s", never, text)
				}
			}
		})
	}
}

func TestHoldNeedsACategory(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	before, audit := mustTenant(t, f), f.countAudit(t)
	for _, cat := range []privacy.HoldCategory{"", "because-we-can", "Legal-Claims"} {
		_, err := f.svc.PlaceHold(ctx, "acme", dsr.HoldInput{Scope: privacy.HoldTenant, Reason: "audit", Category: cat}, dsr.Actor{Admin: admin})
		if c, kind := userCode(err); c != "invalid-hold-category" || kind != privacy.KindInvalid {
			t.Errorf("category %q: %v", cat, err)
		}
	}
	if after := mustTenant(t, f); after.ETag != before.ETag {
		t.Error("a refused hold changed the tenant")
	}
	if diff := cmp.Diff(audit, f.countAudit(t)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

// TestWatchResumesAnInterruptedRelease: the process died after the
// release's write, before the held tasks were started again: the deadline
// watch starts them, once.
func TestWatchResumesAnInterruptedRelease(t *testing.T) {
	t.Parallel()
	f, r, _ := heldErasure(t, privacy.HoldLegalObligation)
	f.editTenant(t, func(tn *privacy.Tenant) { tn.Holds[0].ReleasedAt = f.clock.Now() })
	n, err := f.svc.ResumeReleased(ctx, mustTenant(t, f))
	if err != nil || n != 1 {
		t.Fatalf("resumed %d, %v", n, err)
	}
	tn := mustTenant(t, f)
	if tn.Holds[0].RedrivenAt.IsZero() {
		t.Error("the hold is not marked resumed")
	}
	if n, err := f.svc.ResumeReleased(ctx, tn); err != nil || n != 0 {
		t.Errorf("a second run resumed %d, %v", n, err)
	}
	if after := mustTenant(t, f); after.ETag != tn.ETag {
		t.Error("a second run wrote the tenant")
	}
	r = f.untilSettled(t, r.ID)
	if r.Status != privacy.StatusCompleted || r.Tasks[0].Status != privacy.TaskDone || f.conn.count("crm", privacy.ActionErase) != 1 {
		t.Errorf("after the watch: %s %v, %d calls", r.Status, shortLines(r), f.conn.count("crm", privacy.ActionErase))
	}
}

// TestRetryAHeldTask: an admin can retry a held task once nothing holds it;
// while a hold still covers it, the answer says so.
func TestRetryAHeldTask(t *testing.T) {
	t.Parallel()
	f, r, _ := heldErasure(t, privacy.HoldLegalClaims)
	_, err := f.svc.RetryTasks(ctx, "acme", r.ID, r.Tasks[0].ID, dsr.Actor{Admin: admin})
	if c, kind := userCode(err); c != "task-held" || kind != privacy.KindConflict {
		t.Errorf("retry while held: %v", err)
	}
	if _, err := f.svc.RetryTasks(ctx, "acme", r.ID, "", dsr.Actor{Admin: admin}); code(err) != "nothing-to-retry" {
		t.Errorf("retry all while held: %v", err)
	}
	// Released by an older version, which left the tasks held.
	f.editTenant(t, func(tn *privacy.Tenant) {
		tn.Holds[0].ReleasedAt, tn.Holds[0].RedrivenAt = f.clock.Now(), f.clock.Now()
	})
	if _, err := f.svc.RetryTasks(ctx, "acme", r.ID, r.Tasks[0].ID, dsr.Actor{Admin: admin}); err != nil {
		t.Fatalf("retry after the release: %v", err)
	}
	if text := lastMail(t, f); !strings.Contains(text, "That reason no longer applies") {
		t.Errorf("the subject is not told:\n%s", text)
	}
	if r = f.untilSettled(t, r.ID); r.Status != privacy.StatusCompleted {
		t.Errorf("after the retry: %s %v", r.Status, shortLines(r))
	}
}
