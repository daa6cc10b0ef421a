package dsr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// svcDef is a service a test configures.
type svcDef struct {
	id      string
	kind    privacy.ConnectorKind
	actions []privacy.Action
	cats    []privacy.Category
}

func webhook(id string, actions []privacy.Action, cats ...privacy.Category) svcDef {
	return svcDef{id, privacy.KindWebhook, actions, cats}
}

func (f *taskFixture) addServices(tb testing.TB, defs ...svcDef) {
	tb.Helper()
	for _, d := range defs {
		f.addService(tb, "acme", d.id, d.kind, d.actions, d.cats...)
	}
}

// shortLines is lines with the request id cut from the task ids.
func shortLines(r *privacy.Request) []taskLine {
	out := lines(r)
	for i := range out {
		out[i].ID = strings.TrimPrefix(out[i].ID, r.ID+".")
	}
	return out
}

func TestFanOut(t *testing.T) {
	t.Parallel()
	profile, billing, marketing, logs := privacy.CategoryProfile, privacy.CategoryBilling, privacy.CategoryMarketing, privacy.CategorySystemLogs
	cases := []struct {
		name       string
		grace      int
		services   []svcDef
		typ        privacy.RequestType
		cats       []privacy.Category
		want       []taskLine
		wantStatus privacy.Status
		// messages on the tasks queue: runnable now, and scheduled for later
		wantVisible, wantDelayed int
	}{
		{
			name: "one task per service holding the categories; an unsupported action fails with its reason",
			services: []svcDef{
				webhook("crm", verifyActions, profile, billing),
				webhook("logs", eraseActions, logs), // holds none of the categories: no task
				webhook("mkt", []privacy.Action{privacy.ActionExport}, marketing),
			},
			typ: privacy.TypeErase, cats: []privacy.Category{profile, marketing},
			want: []taskLine{
				{"crm.erase", "pending", ""},
				{"mkt.erase", "failed", "the webhook connector of this service does not support erase: handle it in the service's own tools"},
			},
			wantStatus: privacy.StatusInProgress, wantVisible: 1,
		},
		{
			name: "rectify of a system-logs-only service is skipped",
			services: []svcDef{
				webhook("logs", []privacy.Action{privacy.ActionRectify}, logs),
				webhook("crm", []privacy.Action{privacy.ActionRectify}, profile),
			},
			typ: privacy.TypeRectify,
			want: []taskLine{
				{"logs.rectify", "skipped", "rectify does not apply to system-generated logs"},
				{"crm.rectify", "pending", ""},
			},
			wantStatus: privacy.StatusInProgress, wantVisible: 1,
		},
		{
			name:  "an erasure grace period restricts now and erases later",
			grace: 30,
			services: []svcDef{
				webhook("crm", graceActions, profile),
				webhook("legacy", eraseActions, profile), // cannot restrict: erases after the grace period only
			},
			typ: privacy.TypeErase,
			want: []taskLine{
				{"crm.restrict", "pending", ""},
				{"crm.erase", "pending", ""},
				{"legacy.erase", "pending", ""},
			},
			wantStatus: privacy.StatusInProgress, wantVisible: 1, wantDelayed: 2,
		},
		{
			name:     "no service holds the categories: completed at once",
			services: []svcDef{webhook("mkt", eraseActions, marketing)},
			typ:      privacy.TypeErase, cats: []privacy.Category{billing},
			want:       []taskLine{},
			wantStatus: privacy.StatusCompleted,
		},
		{
			name:       "no services at all: an access request completes at once",
			typ:        privacy.TypeAccess,
			want:       []taskLine{},
			wantStatus: privacy.StatusCompleted,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t)
			f.setGrace(t, "acme", tc.grace)
			f.addServices(t, tc.services...)
			approvedAt := f.clock.Now()
			r := f.approved(t, tc.typ, tc.cats...)
			if diff := cmp.Diff(tc.want, shortLines(r)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if r.Status != tc.wantStatus {
				t.Errorf("status %s, want %s", r.Status, tc.wantStatus)
			}
			for _, task := range r.Tasks {
				wantNotBefore := time.Time{}
				if task.Action == privacy.ActionErase && tc.grace > 0 {
					wantNotBefore = approvedAt.Add(time.Duration(tc.grace) * 24 * time.Hour)
				}
				if !task.NotBefore.Equal(wantNotBefore) {
					t.Errorf("task %s not before %v, want %v", task.ID, task.NotBefore, wantNotBefore)
				}
			}
			visible, delayed := f.queued(t)
			if visible != tc.wantVisible || delayed != tc.wantDelayed {
				t.Errorf("tasks queue: %d visible, %d scheduled; want %d, %d", visible, delayed, tc.wantVisible, tc.wantDelayed)
			}
			if tc.wantStatus == privacy.StatusCompleted {
				if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
					t.Errorf("notices (-want +got):\n%s", diff)
				}
				mails := f.mail.Mails()
				if tc.typ == privacy.TypeAccess && !strings.Contains(mails[len(mails)-1].Text, "None of our services holds data about you") {
					t.Errorf("completion mail:\n%s", mails[len(mails)-1].Text)
				}
			}
		})
	}
}

func TestErasureCompletesOnce(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	f.setGrace(t, "acme", 0)
	f.addServices(t,
		webhook("crm", verifyActions, privacy.CategoryProfile), // can look the subject up after the delete
		webhook("billing", eraseActions, privacy.CategoryBilling),
		webhook("support", eraseActions, privacy.CategoryContent))
	r := f.approved(t, privacy.TypeErase)
	r = f.untilSettled(t, r.ID)
	if r.Status != privacy.StatusCompleted {
		t.Fatalf("status %s, tasks %+v", r.Status, lines(r))
	}
	verification := map[string]string{}
	for _, task := range r.Tasks {
		verification[task.Service] = task.Verification
	}
	want := map[string]string{"crm": privacy.VerifyAbsent, "billing": privacy.VerifyUnsupported, "support": privacy.VerifyUnsupported}
	if diff := cmp.Diff(want, verification); diff != "" {
		t.Errorf("verification (-want +got):\n%s", diff)
	}
	wantCalls := map[string]int{"crm/erase": 1, "crm/lookup": 1, "billing/erase": 1, "support/erase": 1}
	if diff := cmp.Diff(wantCalls, f.conn.total()); diff != "" {
		t.Errorf("connector calls (-want +got):\n%s", diff)
	}
	audit := f.countAudit(t)
	for action, n := range map[string]int{"request.completed": 1, "task.done": 3, dsr.ActionTombstone: 3, "request.partially-completed": 0} {
		if audit[action] != n {
			t.Errorf("%d %s audit entries, want %d", audit[action], action, n)
		}
	}
	if diff := cmp.Diff(map[string]int{privacy.NoticeVerified: 1, privacy.NoticeApproved: 1, privacy.NoticeCompleted: 1}, f.countNotices(t)); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
	stones, _, err := f.svc.Tombstones(ctx, "acme", "", 0, 10)
	if err != nil || len(stones) != 3 {
		t.Fatalf("tombstones %+v, %v", stones, err)
	}
	for _, s := range stones {
		if s.SubjectHash != r.SubjectHash || s.RequestID != r.ID {
			t.Errorf("tombstone %+v does not name the request by its subject hash", s)
		}
	}
	cert, err := f.svc.CertificateOf(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Services) != 3 || !strings.Contains(cert.Text(), "verified: re-queried after the delete, nothing found") ||
		strings.Contains(cert.Text(), subjectEmail) {
		t.Errorf("certificate:\n%s", cert.Text())
	}
	if rep, err := f.svc.VerifyAudit(ctx, "acme"); err != nil || !rep.Valid {
		t.Errorf("audit chain %+v, %v", rep, err)
	}
}

func TestVerifyAfterDelete(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		lookup           step
		wantTask         taskLine
		wantVerification string
		wantStatus       privacy.Status
		wantErases       int
		wantTombstones   int
	}{
		{"the service no longer finds the subject", absent,
			taskLine{"crm.erase", "done", ""}, privacy.VerifyAbsent, privacy.StatusCompleted, 1, 1},
		{"the service still finds the subject: retried, then failed", present,
			taskLine{"crm.erase", "failed", "gave up after 3 attempts within the deadline: the service still finds the subject after the erasure"},
			"", privacy.StatusPartiallyCompleted, 3, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTaskFixture(t, func(c *dsr.Config) { c.TaskMaxAttempts = 3 })
			f.setGrace(t, "acme", 0)
			f.addServices(t, webhook("crm", verifyActions, privacy.CategoryProfile))
			f.conn.on("crm", privacy.ActionLookup, tc.lookup)
			r := f.untilSettled(t, f.approved(t, privacy.TypeErase).ID)
			if diff := cmp.Diff([]taskLine{tc.wantTask}, shortLines(r)); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			if r.Status != tc.wantStatus || r.Tasks[0].Verification != tc.wantVerification {
				t.Errorf("status %s, verification %q; want %s, %q", r.Status, r.Tasks[0].Verification, tc.wantStatus, tc.wantVerification)
			}
			if got := f.conn.count("crm", privacy.ActionErase); got != tc.wantErases {
				t.Errorf("%d erase calls, want %d", got, tc.wantErases)
			}
			if got := f.countAudit(t)[dsr.ActionTombstone]; got != tc.wantTombstones {
				t.Errorf("%d tombstones, want %d", got, tc.wantTombstones)
			}
		})
	}
}
