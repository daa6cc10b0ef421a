package dsr

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
		m := privacy.Mail{ID: ev.ID, To: r.Subject.Email, Subject: noticeSubject(t, r, data.Notice), Text: s.noticeText(t, r, data.Notice)}
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

func noticeSubject(t *privacy.Tenant, r *privacy.Request, notice string) string {
	lang := r.LanguageOf()
	if _, ok := mailTexts()[privacy.LangEnglish]["subject."+notice]; ok {
		return say(lang, "subject."+notice, t.Name)
	}
	return say(lang, "subject.other", t.Name)
}

// noticeText is the body of a notice, in the request's language.
func (s *Service) noticeText(t *privacy.Tenant, r *privacy.Request, notice string) string {
	var b strings.Builder
	lang := r.LanguageOf()
	due := dateIn(lang, t, r.Due.At)
	b.WriteString(say(lang, "head", r.ID, typeIn(lang, r.Type)))
	switch notice {
	case privacy.NoticeVerified, privacy.NoticeApproved:
		b.WriteString(say(lang, notice, due))
	case privacy.NoticeDenied:
		reason := ""
		if r.Decision != nil {
			reason = r.Decision.Reason
		}
		b.WriteString(say(lang, notice, reason))
	case privacy.NoticeExtended:
		reason := ""
		if r.Extension != nil {
			reason = r.Extension.Reason
		}
		b.WriteString(say(lang, notice, reason, s.extendedDue(t, r)))
	case privacy.NoticeCancelled:
		b.WriteString(say(lang, notice))
	case privacy.NoticeClarificationLapsed:
		b.WriteString(say(lang, notice, humanDurationIn(lang, s.cfg.ClarificationWait), due))
	case privacy.NoticeClarification:
		question := ""
		if p := r.OpenPause(); p != nil {
			question = p.Reason
		} else if n := len(r.Pauses); n > 0 {
			question = r.Pauses[n-1].Reason
		}
		b.WriteString(say(lang, notice, question))
	case privacy.NoticeCompleted, privacy.NoticePartial:
		s.outcomeText(&b, t, r)
	case privacy.NoticeLinkReissued:
		if r.Package != nil {
			b.WriteString(say(lang, notice, dateIn(lang, t, r.Package.ExpiresAt), s.DownloadLink(r)))
		}
	case privacy.NoticeResumed:
		b.WriteString(say(lang, notice, typeIn(lang, r.Type)))
	}
	if t.Contact != "" {
		b.WriteString(say(lang, "questions", t.Contact))
	}
	if link := s.privacyPage(t); link != "" {
		b.WriteString(say(lang, "follow", link))
	}
	return b.String()
}

// privacyPage is the link mails give to follow a request: PORTAL_BASE_URL
// when set (the tenant's own privacy page), else the tenant's privacy center
// on this app (functions/center), else none.
func (s *Service) privacyPage(t *privacy.Tenant) string {
	switch {
	case s.cfg.PortalBaseURL != "":
		return s.cfg.PortalBaseURL
	case s.cfg.PublicURL != "":
		return s.cfg.PublicURL + "/api/center/" + t.ID + "/"
	}
	return ""
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
		return dateIn(r.LanguageOf(), t, r.Due.At)
	}
	return dateIn(r.LanguageOf(), t, probe.Due.At)
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
		if p := r.OpenPause(); p != nil && !p.Until.IsZero() && !now.Before(p.Until) {
			if t == nil {
				if t, err = s.tenant(ctx, tenantID); err != nil {
					errs = append(errs, err)
					continue
				}
			}
			if lapsed, err := s.lapseClarification(ctx, t, r, now); err != nil {
				errs = append(errs, err)
				continue
			} else if lapsed {
				flushed++
				continue // its tasks, if any, are looked at on the next run
			}
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

// outcomeText tells the subject what was done at each service, and what
// was not and why: an accurate account (GDPR Art. 12(1), 17(3)). A legal
// hold is explained by its category, never by the admin's internal text.
func (s *Service) outcomeText(b *strings.Builder, t *privacy.Tenant, r *privacy.Request) {
	lang := r.LanguageOf()
	all := !slices.ContainsFunc(r.Tasks, func(task privacy.Task) bool { return !task.Status.Succeeded() })
	switch r.Type {
	case privacy.TypeAccess, privacy.TypeExport:
		if link := s.DownloadLink(r); link != "" {
			b.WriteString(say(lang, "outcome.ready", dateIn(lang, t, r.Package.ExpiresAt), link))
		} else {
			b.WriteString(say(lang, "outcome.none"))
		}
	default:
		if all {
			b.WriteString(say(lang, "outcome.all", typeIn(lang, r.Type)))
		} else {
			b.WriteString(say(lang, "outcome.part", typeIn(lang, r.Type)))
		}
	}
	done, notDone := say(lang, "done"), say(lang, "notDone")
	if r.Type == privacy.TypeErase {
		done, notDone = say(lang, "erased"), say(lang, "notErased")
	}
	for _, task := range r.Tasks {
		if task.Action == privacy.ActionRestrict && r.Type == privacy.TypeErase {
			continue // the grace-period restriction is a step, not an outcome
		}
		switch task.Status {
		case privacy.TaskDone:
			b.WriteString(say(lang, "task.done", task.ServiceName, done))
		case privacy.TaskNoData:
			b.WriteString(say(lang, "task.noData", task.ServiceName))
		case privacy.TaskHeld:
			// GDPR Art. 17(3): the subject is told what is kept and on
			// which ground; the hold's own text is internal.
			why := say(lang, "task.heldWhy")
			if legallyHeld(&task) {
				why = say(lang, "task.heldBecause", holdGround(lang, task.HoldCategory))
			}
			b.WriteString(say(lang, "task.held", task.ServiceName, notDone, why))
		case privacy.TaskSkipped:
			b.WriteString(say(lang, "task.skipped", task.ServiceName, task.Reason))
		case privacy.TaskFailed:
			b.WriteString(say(lang, "task.failed", task.ServiceName, notDone))
		}
	}
}
