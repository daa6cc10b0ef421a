package dsr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// pausable adds a tenant whose requests fall under one residence-based regime.
func (f *fixture) pausable(tb testing.TB) {
	tb.Helper()
	t := &privacy.Tenant{ID: "ukco", Name: "UK Co", Regimes: privacy.Regimes, TimeZone: "Europe/London", PIPLDays: 30, DefaultDays: 30}
	if _, err := f.svc.EnsureTenant(ctx, t); err != nil {
		tb.Fatal(err)
	}
}

func TestPauseStopsOnlyClocksThatMayStop(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		country   string
		wantMoved bool // the deadline moves by the stopped days
	}{
		{"UK GDPR allows stop-the-clock (Art. 12A)", "GB", true},
		{"EU GDPR does not", "FR", false},
		{"CCPA runs regardless", "US", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.pausable(t)
			sub := dsr.Submission{Type: privacy.TypeAccess, Email: "pat@example.com", Country: tc.country}
			if tc.country == "US" {
				sub.Region = "CA"
			}
			res, err := f.svc.Submit(ctx, "ukco", sub, "", dsr.Actor{Admin: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			before := res.Request.Due.At
			f.clock.Add(24 * time.Hour)
			paused, err := f.svc.Pause(ctx, "ukco", res.Request.ID, dsr.Actor{Admin: "alice"}, "Which account number did you use?")
			if err != nil {
				t.Fatal(err)
			}
			if paused.Due.Paused != tc.wantMoved {
				t.Errorf("due.paused = %v, want %v (%s)", paused.Due.Paused, tc.wantMoved, paused.Due.Regime)
			}
			f.clock.Add(10 * 24 * time.Hour)
			resumed, err := f.svc.Resume(ctx, "ukco", res.Request.ID, dsr.Actor{Admin: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			moved := resumed.Due.At.After(before)
			if moved != tc.wantMoved {
				t.Errorf("deadline %s → %s under %s: moved %v, want %v", before.Format(time.DateOnly), resumed.Due.At.Format(time.DateOnly), resumed.Due.Regime, moved, tc.wantMoved)
			}
			if tc.wantMoved && resumed.Due.At.Sub(before) < 9*24*time.Hour {
				t.Errorf("a 10-day pause moved the deadline by only %s", resumed.Due.At.Sub(before))
			}
			got := f.notices(t)
			if len(got) == 0 || got[len(got)-1] != privacy.NoticeClarification {
				t.Fatalf("notices %v, want the clarification last", got)
			}
			mails := f.mail.Mails()
			if !strings.Contains(mails[len(mails)-1].Text, "Which account number did you use?") {
				t.Errorf("the clarification mail does not carry the question:\n%s", mails[len(mails)-1].Text)
			}
		})
	}
}

func TestPauseAndResumeRefusals(t *testing.T) {
	t.Parallel()
	admin := dsr.Actor{Admin: "alice"}
	cases := []struct {
		name string
		act  func(f *fixture, id string) error
		want string
	}{
		{"resume while running", func(f *fixture, id string) error { _, err := f.svc.Resume(ctx, "acme", id, admin); return err }, "not-paused"},
		{"pause twice", func(f *fixture, id string) error {
			_, _ = f.svc.Pause(ctx, "acme", id, admin, "q1")
			_, err := f.svc.Pause(ctx, "acme", id, admin, "q2")
			return err
		}, "already-paused"},
		{"pause without a question", func(f *fixture, id string) error { _, err := f.svc.Pause(ctx, "acme", id, admin, ""); return err }, "reason-required"},
		{"pause a closed request", func(f *fixture, id string) error {
			_, _ = f.svc.Deny(ctx, "acme", id, admin, "no")
			_, err := f.svc.Pause(ctx, "acme", id, admin, "q")
			return err
		}, "request-not-open"},
		{"pause another tenant's request", func(f *fixture, id string) error { _, err := f.svc.Pause(ctx, "globex", id, admin, "q"); return err }, "unknown-request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			r := f.submitVerified(t, "acme")
			if got := code(tc.act(f, r.ID)); got != tc.want {
				t.Errorf("code %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("an unverified request cannot be paused", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res, _ := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
		if _, err := f.svc.Pause(ctx, "acme", res.Request.ID, admin, "q"); code(err) != "request-not-open" {
			t.Errorf("code %q", code(err))
		}
	})
}
