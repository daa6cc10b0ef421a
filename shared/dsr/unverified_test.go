package dsr_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// What moves a request on when its subject never enters the code? The watch,
// UnverifiedExpiry (7 days) after it was received: cancelled, its personal
// data removed, nobody mailed.
func TestUnverifiedRequestExpires(t *testing.T) {
	t.Parallel()
	const week = 7 * 24 * time.Hour
	redrive := func(tb testing.TB, f *fixture) {
		tb.Helper()
		if _, _, _, err := f.svc.Redrive(ctx, "acme", 7*24*time.Hour, 100); err != nil {
			tb.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		wait       time.Duration
		verify     bool
		wantStatus privacy.Status
		wantEmail  string
	}{
		{"before the expiry it waits", week - time.Minute, false, privacy.StatusAwaitingVerification, "ada@example.com"},
		{"after the expiry it is cancelled and stripped", week + 2*time.Minute, false, privacy.StatusCancelled, ""},
		{"a verified request never expires", 40 * 24 * time.Hour, true, privacy.StatusAwaitingDecision, "ada@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res, err := f.svc.Submit(ctx, "acme", dsr.Submission{Type: privacy.TypeRectify, Email: "ada@example.com", Country: "de",
				Details: "my name is Ada", Changes: []privacy.FieldChange{{Field: "name", Value: "Ada Lovelace"}}}, "", dsr.Actor{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.verify {
				if _, err := f.svc.Verify(ctx, "acme", res.Request.ID, f.mail.lastCode(t)); err != nil {
					t.Fatal(err)
				}
			}
			f.clock.Add(tt.wait)
			redrive(t, f)
			redrive(t, f) // a second pass changes nothing
			r, err := f.svc.Get(ctx, "acme", res.Request.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.wantStatus || r.Subject.Email != tt.wantEmail {
				t.Fatalf("status %s, email %q; want %s, %q", r.Status, r.Subject.Email, tt.wantStatus, tt.wantEmail)
			}
			expired := slices.Contains(f.auditActions(t, "acme"), "request.verification-expired")
			if tt.wantStatus != privacy.StatusCancelled {
				if expired || !r.StrippedAt.IsZero() {
					t.Errorf("expired %v, stripped at %v: want neither", expired, r.StrippedAt)
				}
				return
			}
			want := privacy.Request{Status: privacy.StatusCancelled, Details: "", Changes: []privacy.FieldChange{{Field: "name"}},
				Decision: &privacy.Decision{By: "system", At: r.Decision.At, Reason: "not verified within 7 days"}}
			got := privacy.Request{Status: r.Status, Subject: r.Subject, Details: r.Details, Changes: r.Changes, Decision: r.Decision}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("expired request (-want +got):\n%s", diff)
			}
			if r.StrippedAt.IsZero() || r.SubjectHash == "" || !r.WakeAt.IsZero() || r.Verification.CodeHash != "" {
				t.Errorf("stripped at %v, subject hash %q, wake %v, code hash %q", r.StrippedAt, r.SubjectHash, r.WakeAt, r.Verification.CodeHash)
			}
			n := 0
			for _, a := range f.auditActions(t, "acme") {
				if a == "request.verification-expired" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d request.verification-expired events, want 1", n)
			}
			if got := len(f.mail.Mails()); got != 1 {
				t.Errorf("%d mails, want only the code: an unconfirmed address is never written to", got)
			}
			if notices := f.notices(t); len(notices) != 0 {
				t.Errorf("notices %v, want none", notices)
			}
			if _, err := f.svc.Verify(ctx, "acme", r.ID, "123456"); code(err) != "already-verified" {
				t.Errorf("verify after expiry: %v, want already-verified", err)
			}
		})
	}
}

// A request received before the expiry existed has no wake; its approaching
// due date brings it to the watch, which ends it the same way.
func TestUnverifiedRequestWithoutWakeExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.store.GetRequest(ctx, "acme", res.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	r.WakeAt = time.Time{} // as stored by an older version
	if err := f.store.UpdateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(25 * 24 * time.Hour) // within the 7-day warning of the 1-month GDPR due date
	if _, _, _, err := f.svc.Redrive(ctx, "acme", 7*24*time.Hour, 100); err != nil {
		t.Fatal(err)
	}
	r, err = f.svc.Get(ctx, "acme", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != privacy.StatusCancelled || r.Subject.Email != "" {
		t.Errorf("status %s, email kept %v; want cancelled and stripped", r.Status, r.Subject.Email != "")
	}
}
