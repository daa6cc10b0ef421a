package dsr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// ErrPermanent marks a message that can never be processed (it is recorded and
// acknowledged, not retried).
var ErrPermanent = errors.New("permanent failure")

// SendNotice mails the notice an EventNotice message announces, once: a notice
// already recorded as sent is skipped, so redeliveries do nothing. The mail id is
// the event id, so a crash between sending and recording resends the same mail
// (the outbox mailer overwrites it; an SMTP receiver sees the same Message-ID).
// An extension notice also starts the extension: its sending time is the notice
// time the deadline rules check.
func (s *Service) SendNotice(ctx context.Context, ev privacy.Event, data privacy.NoticeData) error {
	t, err := s.tenant(ctx, ev.TenantID)
	if err != nil {
		return fmt.Errorf("notice %s: %w: unknown tenant", ev.ID, ErrPermanent)
	}
	r, err := s.d.Store.GetRequest(ctx, t.ID, data.RequestID)
	if errors.Is(err, privacy.ErrNotFound) {
		return fmt.Errorf("notice %s: %w: unknown request", ev.ID, ErrPermanent)
	}
	if err != nil {
		return fmt.Errorf("notice %s: get request: %w", ev.ID, err)
	}
	if r.NoticeSent(ev.ID) {
		return nil
	}
	if r.Subject.Email != "" {
		m := privacy.Mail{ID: ev.ID, To: r.Subject.Email, Subject: noticeSubject(t, data.Notice), Text: s.noticeText(t, r, data.Notice)}
		if err := s.d.Mailer.Send(ctx, m); err != nil {
			return fmt.Errorf("notice %s: send: %w", ev.ID, err)
		}
		s.d.Step("notice-mailed")
	}
	// Flush the request update wrote, not the stale copy a conflict leaves.
	r, err = s.update(ctx, r, func(r *privacy.Request) error {
		if r.NoticeSent(ev.ID) {
			return nil
		}
		now := s.now()
		r.Notices = append(r.Notices, privacy.SentNotice{EventID: ev.ID, Type: data.Notice, SentAt: now})
		if data.Notice == privacy.NoticeExtended && r.Extension != nil && r.Extension.NoticedAt.IsZero() {
			r.Extension.NoticedAt = now
			if err := s.schedule(t, r, now); err != nil {
				return err
			}
			s.audit(r, now, "system", "request.extension-noticed", map[string]string{"extended": fmt.Sprint(r.Due.Extended)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notice %s: record: %w", ev.ID, err)
	}
	s.flushQuietly(ctx, r)
	return nil
}

func noticeSubject(t *privacy.Tenant, notice string) string {
	switch notice {
	case privacy.NoticeVerified:
		return "We received your privacy request — " + t.Name
	case privacy.NoticeApproved:
		return "Your privacy request is being processed — " + t.Name
	case privacy.NoticeDenied:
		return "Your privacy request was declined — " + t.Name
	case privacy.NoticeExtended:
		return "More time is needed for your privacy request — " + t.Name
	case privacy.NoticeCancelled:
		return "Your privacy request was cancelled — " + t.Name
	case privacy.NoticeClarification:
		return "We need more information about your privacy request — " + t.Name
	case privacy.NoticeCompleted:
		return "Your privacy request is complete — " + t.Name
	case privacy.NoticePartial:
		return "Your privacy request is complete, with exceptions — " + t.Name
	case privacy.NoticeLinkReissued:
		return "A new download link for your data — " + t.Name
	case privacy.NoticeResumed:
		return "We are now completing your privacy request — " + t.Name
	}
	return "About your privacy request — " + t.Name
}

func (s *Service) noticeText(t *privacy.Tenant, r *privacy.Request, notice string) string {
	var b strings.Builder
	due := r.Due.At.In(t.Location()).Format("2 January 2006")
	fmt.Fprintf(&b, "Reference: %s\nRequest: %s\n\n", r.ID, r.Type)
	switch notice {
	case privacy.NoticeVerified:
		fmt.Fprintf(&b, "We have received your request and confirmed your email address.\nWe will respond by %s.\n", due)
	case privacy.NoticeApproved:
		fmt.Fprintf(&b, "Your request has been accepted and is being carried out.\nWe will respond by %s.\n", due)
	case privacy.NoticeDenied:
		reason := ""
		if r.Decision != nil {
			reason = r.Decision.Reason
		}
		fmt.Fprintf(&b, "We cannot act on your request, for this reason:\n\n%s\n\n"+
			"You may lodge a complaint with a data protection supervisory authority and seek a judicial remedy.\n", reason)
	case privacy.NoticeExtended:
		reason := ""
		if r.Extension != nil {
			reason = r.Extension.Reason
		}
		fmt.Fprintf(&b, "We need more time to respond, as the law allows, for this reason:\n\n%s\n\n"+
			"We will respond by %s.\n", reason, s.extendedDue(t, r))
	case privacy.NoticeCancelled:
		b.WriteString("Your request has been cancelled. You may submit a new request at any time.\n")
	case privacy.NoticeClarification:
		question := ""
		if p := r.OpenPause(); p != nil {
			question = p.Reason
		} else if n := len(r.Pauses); n > 0 {
			question = r.Pauses[n-1].Reason
		}
		fmt.Fprintf(&b, "To answer your request we need more information:\n\n%s\n\nPlease reply to this message.\n", question)
	case privacy.NoticeCompleted, privacy.NoticePartial:
		s.outcomeText(&b, t, r)
	case privacy.NoticeLinkReissued:
		if r.Package != nil {
			fmt.Fprintf(&b, "Here is a new link to download your data (it works until %s):\n%s\n\nEarlier links no longer work.\n",
				r.Package.ExpiresAt.In(t.Location()).Format("2 January 2006"), s.DownloadLink(r))
		}
	case privacy.NoticeResumed:
		fmt.Fprintf(&b, "We told you that part of your request was deferred because the law allowed or required us to keep some data.\n"+
			"That reason no longer applies: we are now carrying out the rest of your %s request, and will tell you when it is done.\n", r.Type)
	}
	if t.Contact != "" {
		fmt.Fprintf(&b, "\nQuestions: %s\n", t.Contact)
	}
	if s.cfg.PortalBaseURL != "" {
		fmt.Fprintf(&b, "Follow your request: %s\n", s.cfg.PortalBaseURL)
	}
	return b.String()
}

// extendedDue is the due date the extension will give, for the notice text.
func (s *Service) extendedDue(t *privacy.Tenant, r *privacy.Request) string {
	probe := *r
	if probe.Extension != nil {
		ext := *probe.Extension
		ext.NoticedAt = s.now()
		probe.Extension = &ext
	}
	if err := s.schedule(t, &probe, s.now()); err != nil {
		return r.Due.At.In(t.Location()).Format("2 January 2006")
	}
	return probe.Due.At.In(t.Location()).Format("2 January 2006")
}

// Redrive finishes what a crash left behind for one tenant: it flushes every
// outbox older than the lease, and re-publishes tasks that did not move within
// their lease (a worker crashed mid-run, or a message was lost). It returns how many requests it flushed, and how
// many open requests are overdue or due within the warning window.
func (s *Service) Redrive(ctx context.Context, tenantID string, warn time.Duration, limit int) (flushed, overdue, dueSoon int, err error) {
	now := s.now()
	rs, err := s.d.Store.ListStuck(ctx, tenantID, now.Add(-s.cfg.OutboxLease), now.Add(warn), limit)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("list stuck requests: %w", err)
	}
	var errs []error
	var t *privacy.Tenant // read once, only if a task needs it
	for _, r := range rs {
		if len(r.Outbox) > 0 && r.Outbox[0].At.Before(now.Add(-s.cfg.OutboxLease)) {
			if err := s.Flush(ctx, r); err != nil {
				errs = append(errs, err)
				continue
			}
			flushed++
		}
		if r.Status == privacy.StatusAwaitingVerification {
			// Its wake (or, for a request older than the expiry, its due date)
			// brought it here; before the expiry there is nothing to do.
			if expired, err := s.expireUnverified(ctx, r, now); err != nil {
				errs = append(errs, err)
			} else if expired {
				flushed++
			}
			continue
		}
		if !r.WakeAt.IsZero() && r.WakeAt.Before(now) {
			if t == nil {
				if t, err = s.tenant(ctx, tenantID); err != nil {
					errs = append(errs, err)
					continue
				}
			}
			if err := s.redriveTasks(ctx, t, r); err != nil {
				errs = append(errs, err)
			} else {
				flushed++
			}
		}
		if !r.Status.Terminal() && r.Status != privacy.StatusAwaitingVerification && !r.Due.At.IsZero() {
			switch {
			case r.Due.At.Before(now):
				overdue++
			case r.Due.At.Before(now.Add(warn)):
				dueSoon++
			}
		}
	}
	return flushed, overdue, dueSoon, errors.Join(errs...)
}
