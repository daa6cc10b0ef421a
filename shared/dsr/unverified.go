package dsr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// A request nobody confirms would otherwise wait for ever, holding an
// address whose owner never answered (perhaps someone else typed it). After
// UnverifiedExpiry the hourly watch cancels it and removes the personal data
// it carries, as a retention strip does: what stays is the stub the record
// of requests needs (type, channel, dates, the decision and its reason;
// 11 CCR §7101 asks for the request, its date and how it was answered, not
// the address), minimised as GDPR Art. 5(1)(c) and (e) require. No mail is
// sent: an address whose owner has not confirmed it is never written to.

// errStillOpen reports that an unverified request is not due to expire (yet).
var errStillOpen = errors.New("not expired")

// expireUnverified cancels r if it still waits for its code UnverifiedExpiry
// after it was received. It reports whether it did. Idempotent: a request
// that moved on (verified, cancelled) meanwhile is left alone.
func (s *Service) expireUnverified(ctx context.Context, r *privacy.Request, now time.Time) (bool, error) {
	after := s.cfg.UnverifiedExpiry
	r, err := s.update(ctx, r, func(r *privacy.Request) error {
		if r.Status != privacy.StatusAwaitingVerification || now.Before(r.ReceivedAt.Add(after)) {
			return errStillOpen
		}
		if err := r.Move(privacy.StatusCancelled); err != nil {
			return err
		}
		reason := fmt.Sprintf("not verified within %s", humanDuration(after))
		r.Decision = &privacy.Decision{By: "system", At: now, Reason: reason}
		r.Subject = privacy.Subject{}
		r.Details = ""
		for i := range r.Changes {
			r.Changes[i].Value = ""
		}
		r.Verification.CodeHash = ""
		r.StrippedAt = now
		r.WakeAt = time.Time{}
		s.audit(r, now, "system", "request.verification-expired", map[string]string{"status": string(privacy.StatusCancelled), "after": after.String()})
		return nil
	})
	if errors.Is(err, errStillOpen) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.d.Step("request-verification-expired")
	s.flushQuietly(ctx, r)
	return true, nil
}

// humanDuration writes d in days when it is whole days, else as Go does.
func humanDuration(d time.Duration) string {
	switch n := d / (24 * time.Hour); {
	case d%(24*time.Hour) != 0:
		return d.String()
	case n == 1:
		return "1 day"
	default:
		return fmt.Sprintf("%d days", n)
	}
}
