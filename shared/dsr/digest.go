package dsr

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// An open request nobody decides on only shows in counts: the watch's log
// line, the deadlines metric and the console's queue. Nobody reading none of
// them learns that a legal deadline is near. So once a local day, from
// DigestHour on, the watch mails the tenant's privacy contact (Tenant.Contact,
// a role mailbox) a digest of the requests overdue or due within the warning
// window: counts and request ids with their due dates, never a subject's
// data, and a link to the console. Nothing due, no mail.
//
// The mail is sent, then the day is recorded on the tenant (DigestSentOn). A
// crash between the two sends it again on the next run, with the same
// message id (tenant and day), so a mail system that deduplicates by
// Message-ID shows it once; a digest is never lost to a crash.

// digestList caps the requests a digest names; the counts cover them all up to
// digestScan.
const (
	digestList = 20
	digestScan = 1000
)

// Digest mails tenant t's privacy contact the day's deadline digest if it is
// due: DigestHour has passed in the tenant's time zone, no digest went out
// that local day, and some open request is overdue or due within warn. It
// reports whether it sent one.
func (s *Service) Digest(ctx context.Context, t *privacy.Tenant, warn time.Duration) (bool, error) {
	if s.cfg.DigestHour < 0 || t.Contact == "" || t.Status == privacy.TenantOffboarding {
		return false, nil
	}
	now := s.now()
	local := now.In(t.Location())
	day := local.Format(time.DateOnly)
	if local.Hour() < s.cfg.DigestHour || t.DigestSentOn == day {
		return false, nil
	}
	rs, err := s.d.Store.ListStuck(ctx, t.ID, time.Time{}, now.Add(warn), digestScan)
	if err != nil {
		return false, fmt.Errorf("digest: list due requests: %w", err)
	}
	var overdue, soon []*privacy.Request
	for _, r := range rs {
		switch {
		case r.Status.Terminal() || r.Status == privacy.StatusAwaitingVerification || r.Due.At.IsZero():
		case r.Due.At.Before(now):
			overdue = append(overdue, r)
		case r.Due.At.Before(now.Add(warn)):
			soon = append(soon, r)
		}
	}
	if len(overdue)+len(soon) > 0 {
		m := privacy.Mail{ID: "digest." + t.ID + "." + day, To: t.Contact,
			Subject: fmt.Sprintf("Privacy requests: %d overdue, %d due within %s — %s", len(overdue), len(soon), humanDuration(warn), t.Name),
			Text:    s.digestText(t, now, warn, overdue, soon, len(rs) == digestScan)}
		if err := s.d.Mailer.Send(ctx, m); err != nil {
			return false, fmt.Errorf("digest: send: %w", err)
		}
		s.d.Step("digest-mailed")
	}
	// Recorded even when nothing was due, so the day's later runs do not list again.
	_, err = s.writeTenant(ctx, t.ID, "", func(t *privacy.Tenant, _ time.Time) ([]privacy.AuditEvent, error) {
		t.DigestSentOn = day
		return nil, nil
	})
	if err != nil {
		return false, fmt.Errorf("digest: record the day: %w", err)
	}
	return len(overdue)+len(soon) > 0, nil
}

// digestText is the digest's body: counts, then the requests by id, earliest
// due first.
func (s *Service) digestText(t *privacy.Tenant, now time.Time, warn time.Duration, overdue, soon []*privacy.Request, capped bool) string {
	var b strings.Builder
	at := "at least "
	if !capped {
		at = ""
	}
	fmt.Fprintf(&b, "%s%d privacy requests of %s are overdue and %s%d are due within %s.\n", at, len(overdue), t.Name, at, len(soon), humanDuration(warn))
	listed := 0
	for _, group := range []struct {
		title string
		rs    []*privacy.Request
	}{{"Overdue", overdue}, {"Due soon", soon}} {
		if len(group.rs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s:\n", group.title)
		for i, r := range group.rs {
			if listed == digestList {
				fmt.Fprintf(&b, "- and %d more\n", len(group.rs)-i)
				break
			}
			listed++
			fmt.Fprintf(&b, "- %s (%s, %s): due %s, %s\n", r.ID, r.Type, r.Status, dateIn(privacy.LangEnglish, t, r.Due.At), daysLeft(now, r.Due.At))
		}
	}
	if s.cfg.PublicURL != "" {
		fmt.Fprintf(&b, "\nOpen the console: %s/api/console/\n", s.cfg.PublicURL)
	}
	b.WriteString("\nThis digest names requests by id only. It comes once a day while requests are due.\n")
	return b.String()
}

// daysLeft says how far due is from now, in whole days.
func daysLeft(now, due time.Time) string {
	d := int(due.Sub(now).Hours() / 24)
	switch {
	case due.Before(now) && d == 0:
		return "overdue since today"
	case due.Before(now) && d == -1:
		return "1 day overdue"
	case due.Before(now):
		return fmt.Sprintf("%d days overdue", -d)
	case d == 0:
		return "due today"
	case d == 1:
		return "1 day left"
	default:
		return fmt.Sprintf("%d days left", d)
	}
}
