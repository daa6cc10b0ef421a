package dsr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// digestFixture has a tenant with a privacy contact in Berlin and requests
// an admin submitted (verified): A and B on 31 Jan 2030 (due 28 Feb), C on
// 5 Feb (due 5 Mar), D on 28 Feb (due 28 Mar); B is then cancelled. It
// returns the ids of A, C and D, the clock left at 2 Mar 2030 05:00 UTC.
func digestFixture(tb testing.TB, hour int, contact string) (*fixture, [3]string) {
	tb.Helper()
	f := newFixtureWith(tb, func(c *dsr.Config) { c.DigestHour = hour })
	t := &privacy.Tenant{ID: "dueco", Name: "Due Co", Regimes: privacy.Regimes, Establishment: []string{privacy.RegimeEUGDPR},
		TimeZone: "Europe/Berlin", PIPLDays: 30, DefaultDays: 30, Contact: contact}
	if _, err := f.svc.EnsureTenant(ctx, t); err != nil {
		tb.Fatal(err)
	}
	admin := dsr.Actor{Admin: "alice"}
	submit := func(email string) string {
		res, err := f.svc.Submit(ctx, "dueco", dsr.Submission{Type: privacy.TypeAccess, Email: email, Country: "DE"}, "", admin)
		if err != nil {
			tb.Fatal(err)
		}
		return res.Request.ID
	}
	a, b := submit("anna@example.com"), submit("ben@example.com")
	if _, err := f.svc.Cancel(ctx, "dueco", b, admin, ""); err != nil {
		tb.Fatal(err)
	}
	f.clock.Add(5 * 24 * time.Hour)
	c := submit("carl@example.com")
	f.clock.Set(time.Date(2030, 2, 28, 9, 0, 0, 0, time.UTC))
	d := submit("dora@example.com")
	f.clock.Set(time.Date(2030, 3, 2, 5, 0, 0, 0, time.UTC))
	return f, [3]string{a, c, d}
}

// What tells a tenant that a request's legal deadline is near, or passed,
// when nobody opens the console? The daily digest to its privacy contact.
func TestDeadlineDigest(t *testing.T) {
	t.Parallel()
	const week = 7 * 24 * time.Hour
	f, ids := digestFixture(t, 8, "privacy@dueco.example")
	digest := func(tb testing.TB) bool {
		tb.Helper()
		tn, err := f.svc.Tenant(ctx, "dueco")
		if err != nil {
			tb.Fatal(err)
		}
		sent, err := f.svc.Digest(ctx, tn, week)
		if err != nil {
			tb.Fatal(err)
		}
		return sent
	}
	// 06:00 in Berlin: before the digest hour.
	if digest(t) || len(f.mail.Mails()) != 0 {
		t.Fatalf("a digest before 08:00 local: %v", f.mail.Mails())
	}
	f.clock.Set(time.Date(2030, 3, 2, 7, 30, 0, 0, time.UTC)) // 08:30 in Berlin
	if !digest(t) {
		t.Fatal("no digest at 08:30 local with a request overdue")
	}
	if digest(t) {
		t.Error("a second digest the same day")
	}
	mails := f.mail.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	m := mails[0]
	if m.To != "privacy@dueco.example" || m.Subject != "Privacy requests: 1 overdue, 1 due within 7 days — Due Co" || m.ID != "digest.dueco.2030-03-02" {
		t.Errorf("mail to %q, subject %q, id %q", m.To, m.Subject, m.ID)
	}
	a, c, d := ids[0], ids[1], ids[2]
	for _, want := range []string{"Overdue:\n- " + a + " (access, awaiting-decision): due 28 February 2030, 1 day overdue", "Due soon:\n- " + c + " (access, awaiting-decision): due 5 March 2030, 3 days left"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the digest lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, d) || strings.Contains(m.Text, "@example.com") || strings.Contains(m.Text, "dora") {
		t.Errorf("the digest names a request not due, or a subject:\n%s", m.Text)
	}
	if tn, _ := f.svc.Tenant(ctx, "dueco"); tn.DigestSentOn != "2030-03-02" {
		t.Errorf("digest day recorded %q", tn.DigestSentOn)
	}
	// The next day it comes again, once.
	f.clock.Add(24 * time.Hour)
	if !digest(t) || digest(t) || len(f.mail.Mails()) != 2 || f.mail.Mails()[1].ID != "digest.dueco.2030-03-03" {
		t.Errorf("the next day's digest: %d mails", len(f.mail.Mails()))
	}
}

func TestDeadlineDigestOffOrNowhereToSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		hour    int
		contact string
	}{
		{"DEADLINE_DIGEST_HOUR=-1", -1, "privacy@dueco.example"},
		{"no privacy contact", 8, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _ := digestFixture(t, tt.hour, tt.contact)
			f.clock.Set(time.Date(2030, 3, 2, 12, 0, 0, 0, time.UTC))
			tn, err := f.svc.Tenant(ctx, "dueco")
			if err != nil {
				t.Fatal(err)
			}
			if sent, err := f.svc.Digest(ctx, tn, 7*24*time.Hour); sent || err != nil || len(f.mail.Mails()) != 0 {
				t.Errorf("sent %v, error %v, %d mails: want nothing", sent, err, len(f.mail.Mails()))
			}
		})
	}
}
