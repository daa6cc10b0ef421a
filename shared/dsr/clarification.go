package dsr

import (
	"context"
	"errors"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// A clock paused for a clarification (Pause) waits for the subject's answer,
// which an admin records with Resume. If none ever comes, nothing else would
// move the request on: under the regimes that honour the pause (UK GDPR
// Art. 12A) its deadline would recede for ever. So the pause carries an end,
// Until (ClarificationWait, 30 days, after it began), and when it passes the
// hourly watch restarts the clock, audits request.clarification-lapsed, and
// tells the subject the request is being answered as it stands.
//
// The watch restarts the clock rather than closing the request: the law does
// not make a subject's silence a withdrawal, the ICO expects controllers to
// answer what they can without the clarification, and under the regimes
// that never stopped the clock (the EU GDPR: EDPB Guidelines 01/2022 on the
// right of access, on asking the subject to specify a request) the controller must answer in time regardless.
// An admin may still deny or answer it as for any open request.

// errNotLapsed reports that a request's pause has not run out (or ended).
var errNotLapsed = errors.New("pause not lapsed")

// lapseClarification ends r's open pause if its wait ran out at now. It
// reports whether it did. Idempotent: a pause an admin ended meanwhile is
// left alone.
func (s *Service) lapseClarification(ctx context.Context, t *privacy.Tenant, r *privacy.Request, now time.Time) (bool, error) {
	r, err := s.update(ctx, r, func(r *privacy.Request) error {
		p := r.OpenPause()
		if p == nil || p.Until.IsZero() || now.Before(p.Until) || r.Status.Terminal() {
			return errNotLapsed
		}
		p.To, p.Unanswered = now, true
		r.SetWake(s.cfg.TaskLease)
		if err := s.schedule(t, r, now); err != nil {
			return err
		}
		s.audit(r, now, "system", "request.clarification-lapsed", map[string]string{"after": s.cfg.ClarificationWait.String()})
		return s.notice(r, now, privacy.NoticeClarificationLapsed)
	})
	if errors.Is(err, errNotLapsed) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.d.Step("request-clarification-lapsed")
	s.flushQuietly(ctx, r)
	return true, nil
}

// humanDurationIn writes d in whole days in lang (a part day counts as one).
func humanDurationIn(lang string, d time.Duration) string {
	n := int((d + 24*time.Hour - 1) / (24 * time.Hour))
	if n == 1 {
		return say(lang, "day")
	}
	return say(lang, "days", n)
}
