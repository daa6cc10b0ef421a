package dsr_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// What moves a request on when the subject never answers the clarification
// an admin asked for? Under UK GDPR the paused clock would stay stopped for
// ever. The watch restarts it ClarificationWait (30 days) after the pause
// began, once, and tells the subject in the request's language.
func TestUnansweredClarificationRestartsTheClock(t *testing.T) {
	t.Parallel()
	const wait = 30 * 24 * time.Hour
	admin := dsr.Actor{Admin: "alice"}
	tests := []struct {
		name       string
		language   string
		after      time.Duration
		resume     bool // an admin records the answer before the watch runs
		wantLapsed bool
		wantText   string
	}{
		{"before the wait the clock stays stopped", "en", wait - time.Minute, false, false, ""},
		{"after the wait the watch restarts it", "en", wait + time.Hour, false, true, "no answer within 30 days"},
		{"in the request's language", "zh-Hans", wait + time.Hour, false, true, "在 30 天内未收到答复"},
		{"an answered pause is left alone", "en", wait + time.Hour, true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.pausable(t)
			res, err := f.svc.Submit(ctx, "ukco", dsr.Submission{Type: privacy.TypeAccess, Email: "pat@example.com", Country: "GB", Language: tt.language}, "", admin)
			if err != nil {
				t.Fatal(err)
			}
			id := res.Request.ID
			f.clock.Add(24 * time.Hour)
			paused, err := f.svc.Pause(ctx, "ukco", id, admin, "Which account number did you use?")
			if err != nil {
				t.Fatal(err)
			}
			if p := paused.OpenPause(); p == nil || !p.Until.Equal(p.From.Add(wait)) || !paused.WakeAt.Equal(p.Until) {
				t.Fatalf("pause %+v, wake %v: want the pause to end, and the request to wake, 30 days on", p, paused.WakeAt)
			}
			if tt.resume {
				f.clock.Add(time.Hour)
				r, err := f.svc.Resume(ctx, "ukco", id, admin)
				if err != nil {
					t.Fatal(err)
				}
				if !r.WakeAt.IsZero() {
					t.Errorf("after the answer the request still wakes at %v", r.WakeAt)
				}
			}
			f.clock.Add(tt.after)
			f.notices(t) // the clarification itself is mailed
			mailsBefore := len(f.mail.Mails())
			for range 2 { // a second pass changes nothing
				if _, _, _, err := f.svc.Redrive(ctx, "ukco", 7*24*time.Hour, 100); err != nil {
					t.Fatal(err)
				}
			}
			r, err := f.svc.Get(ctx, "ukco", id)
			if err != nil {
				t.Fatal(err)
			}
			last := r.Pauses[len(r.Pauses)-1]
			lapsedEvents := 0
			for _, a := range f.auditActions(t, "ukco") {
				if a == "request.clarification-lapsed" {
					lapsedEvents++
				}
			}
			notices := f.notices(t)
			mails := f.mail.Mails()[mailsBefore:]
			if !tt.wantLapsed {
				if last.Unanswered || lapsedEvents != 0 || len(mails) != 0 {
					t.Fatalf("pause %+v, %d lapse events, %d mails: want none", last, lapsedEvents, len(mails))
				}
				if !tt.resume && (r.OpenPause() == nil || !r.Due.Paused) {
					t.Errorf("the clock runs again before the wait ended: %+v", r.Due)
				}
				return
			}
			if r.OpenPause() != nil || !last.Unanswered || last.To.IsZero() || r.Due.Paused || !r.WakeAt.IsZero() {
				t.Errorf("pause %+v, due %+v, wake %v: want the pause ended unanswered, the clock running, no wake", last, r.Due, r.WakeAt)
			}
			if r.Status != privacy.StatusAwaitingDecision {
				t.Errorf("status %s: the request stays open for the admin to answer", r.Status)
			}
			if lapsedEvents != 1 {
				t.Errorf("%d request.clarification-lapsed events, want 1", lapsedEvents)
			}
			if !slices.Equal(notices, []string{privacy.NoticeClarificationLapsed}) {
				t.Errorf("notices %v: want one clarification-lapsed", notices)
			}
			if len(mails) != 1 || !strings.Contains(mails[0].Text, tt.wantText) {
				t.Fatalf("%d mails, want 1 containing %q:\n%v", len(mails), tt.wantText, mails)
			}
			if strings.Contains(mails[0].Text, "Which account number") {
				t.Errorf("the lapse mail repeats the question, which the subject already has:\n%s", mails[0].Text)
			}
		})
	}
}
