package dsr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// Get returns one of the tenant's requests: one point read. The tenant is
// not read first: the request lives in the tenant's partition, so an unknown
// tenant simply has no such request (404 either way, as before).
func (s *Service) Get(ctx context.Context, tenantID, id string) (*privacy.Request, error) {
	if !privacy.ValidTenantID(tenantID) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-request", "no such request")
	}
	return s.request(ctx, tenantID, id)
}

// List pages through the tenant's requests, newest first.
func (s *Service) List(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return privacy.RequestPage{}, err
	}
	if f.Status != "" && !f.Status.Valid() {
		return privacy.RequestPage{}, privacy.Errorf(privacy.KindInvalid, "invalid-filter", "unknown status filter")
	}
	if f.Type != "" && !f.Type.Valid() {
		return privacy.RequestPage{}, privacy.Errorf(privacy.KindInvalid, "invalid-filter", "unknown type filter")
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	page, err := s.d.Store.ListRequests(ctx, t.ID, f)
	if err != nil {
		return privacy.RequestPage{}, privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "the cursor is not valid for this list")
	}
	return page, nil
}

// checkReason validates a decision reason: required where the law wants reasons
// (a denial, GDPR Art. 12(4); an extension, Art. 12(3)).
func checkReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case required && reason == "":
		return "", privacy.Errorf(privacy.KindInvalid, "reason-required", "a reason is required")
	case len(reason) > 2000 || !utf8.ValidString(reason):
		return "", privacy.Errorf(privacy.KindInvalid, "invalid-reason", "the reason must be valid text of at most 2000 bytes")
	}
	return reason, nil
}

// decide moves a request to a new status with a recorded decision, an audit
// entry and a notice to the subject.
func (s *Service) decide(ctx context.Context, tenantID, id string, actor Actor, to privacy.Status, reason, action, notice string) (*privacy.Request, error) {
	k, err := s.idem(ctx, tenantID, actor, action, id, reason)
	if err != nil {
		return nil, err
	}
	t, r, err := s.load(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	r, err = s.update(ctx, r, s.keyed(k, func(r *privacy.Request) error {
		now := s.now()
		wasVerified := r.Status != privacy.StatusAwaitingVerification
		if to == privacy.StatusCancelled && r.Status == privacy.StatusInProgress {
			if err := s.cancelInGrace(t, r, now); err != nil {
				return err
			}
		}
		if err := r.Move(to); err != nil {
			return err
		}
		r.Decision = &privacy.Decision{By: actor.String(), At: now, Reason: reason}
		s.audit(r, now, actor.String(), action, map[string]string{"status": string(to)})
		if to == privacy.StatusApproved {
			// The fan-out is part of the approval's write: no crash between
			// approving and recording the tasks.
			if err := s.notice(r, now, notice); err != nil {
				return err
			}
			return s.start(t, r, now)
		}
		if !wasVerified {
			return nil // never mail an address whose owner has not confirmed it
		}
		return s.notice(r, now, notice)
	}))
	if errors.Is(err, errReplay) {
		return s.replayChange(ctx, tenantID, id)
	}
	if err != nil {
		return nil, err
	}
	s.d.Step("request-decided")
	s.flushQuietly(ctx, r)
	return r, nil
}

// Approve accepts a verified request; the work at the services starts.
func (s *Service) Approve(ctx context.Context, tenantID, id string, actor Actor) (*privacy.Request, error) {
	return s.decide(ctx, tenantID, id, actor, privacy.StatusApproved, "", "request.approved", privacy.NoticeApproved)
}

// Deny refuses a request with reasons; the subject is told the reasons and their
// right to complain to a supervisory authority (GDPR Art. 12(4)).
func (s *Service) Deny(ctx context.Context, tenantID, id string, actor Actor, reason string) (*privacy.Request, error) {
	reason, err := checkReason(reason, true)
	if err != nil {
		return nil, err
	}
	return s.decide(ctx, tenantID, id, actor, privacy.StatusDenied, reason, "request.denied", privacy.NoticeDenied)
}

// Cancel withdraws a request before its work at the services starts (awaiting
// verification or decision, or approved), or an erasure inside its grace
// period before any delete ran: then the grace-period restrictions are lifted.
// Once deletes or other tasks run, the request ends as completed or partially
// completed instead: half-done erasures cannot be undone.
func (s *Service) Cancel(ctx context.Context, tenantID, id string, actor Actor, reason string) (*privacy.Request, error) {
	reason, err := checkReason(reason, false)
	if err != nil {
		return nil, err
	}
	return s.decide(ctx, tenantID, id, actor, privacy.StatusCancelled, reason, "request.cancelled", privacy.NoticeCancelled)
}

// Extend extends the deadline where the regime allows it. The extension counts
// only once the notice (with the reasons) is sent inside the first period (GDPR
// Art. 12(3), CCPA §1798.130(a)(2)(A)): the notify function records that time.
func (s *Service) Extend(ctx context.Context, tenantID, id string, actor Actor, reason string) (*privacy.Request, error) {
	reason, err := checkReason(reason, true)
	if err != nil {
		return nil, err
	}
	k, err := s.idem(ctx, tenantID, actor, "request.extended", id, reason)
	if err != nil {
		return nil, err
	}
	t, r, err := s.load(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	r, err = s.update(ctx, r, s.keyed(k, func(r *privacy.Request) error {
		now := s.now()
		switch {
		case r.Status.Terminal():
			return privacy.Errorf(privacy.KindConflict, "request-closed", "a %s request cannot be extended", r.Status)
		case r.Status == privacy.StatusAwaitingVerification:
			return privacy.Errorf(privacy.KindConflict, "not-verified", "the subject has not confirmed the request yet")
		case r.Extension != nil:
			return privacy.Errorf(privacy.KindConflict, "already-extended", "the deadline was already extended")
		}
		if err := s.checkExtensible(t, r, now); err != nil {
			return err
		}
		r.Extension = &privacy.Extension{Reason: reason, By: actor.String(), At: now}
		s.audit(r, now, actor.String(), "request.extended", map[string]string{"regime": r.Due.Regime})
		return s.notice(r, now, privacy.NoticeExtended)
	}))
	if errors.Is(err, errReplay) {
		return s.replayChange(ctx, tenantID, id)
	}
	if err != nil {
		return nil, err
	}
	s.d.Step("request-extended")
	s.flushQuietly(ctx, r)
	return r, nil
}

// Pause stops the clock while the subject is asked to clarify the request (UK
// GDPR Art. 12A / DPA 2018 s.54(3A)-(3D)). The question is mailed to the subject
// as the reason. The stopped days count only under regimes that allow it; the
// others' deadlines keep running, and the earliest still wins.
func (s *Service) Pause(ctx context.Context, tenantID, id string, actor Actor, question string) (*privacy.Request, error) {
	question, err := checkReason(question, true)
	if err != nil {
		return nil, err
	}
	return s.clock(ctx, tenantID, id, actor, "request.clock-paused", question, func(t *privacy.Tenant, r *privacy.Request, now time.Time) error {
		switch {
		case r.Status.Terminal() || r.Status == privacy.StatusAwaitingVerification:
			return privacy.Errorf(privacy.KindConflict, "request-not-open", "only a verified, open request can be paused")
		case r.OpenPause() != nil:
			return privacy.Errorf(privacy.KindConflict, "already-paused", "the clock is already stopped")
		}
		r.Pauses = append(r.Pauses, privacy.Pause{From: now, Reason: question, Until: now.Add(s.cfg.ClarificationWait)})
		r.SetWake(s.cfg.TaskLease) // the watch restarts the clock at Until if no answer came
		if err := s.schedule(t, r, now); err != nil {
			return err
		}
		s.audit(r, now, actor.String(), "request.clock-paused", map[string]string{"paused": fmt.Sprint(r.Due.Paused)})
		return s.notice(r, now, privacy.NoticeClarification)
	})
}

// Resume restarts the clock when the clarification arrived.
func (s *Service) Resume(ctx context.Context, tenantID, id string, actor Actor) (*privacy.Request, error) {
	return s.clock(ctx, tenantID, id, actor, "request.clock-resumed", "", func(t *privacy.Tenant, r *privacy.Request, now time.Time) error {
		p := r.OpenPause()
		if p == nil {
			return privacy.Errorf(privacy.KindConflict, "not-paused", "the clock is running")
		}
		p.To = now
		r.SetWake(s.cfg.TaskLease) // drops the pause's own wake
		if err := s.schedule(t, r, now); err != nil {
			return err
		}
		s.audit(r, now, actor.String(), "request.clock-resumed", nil)
		return nil
	})
}

// clock applies a clock change to a request and carries out its outbox.
func (s *Service) clock(ctx context.Context, tenantID, id string, actor Actor, op, param string, change func(*privacy.Tenant, *privacy.Request, time.Time) error) (*privacy.Request, error) {
	k, err := s.idem(ctx, tenantID, actor, op, id, param)
	if err != nil {
		return nil, err
	}
	t, r, err := s.load(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	r, err = s.update(ctx, r, s.keyed(k, func(r *privacy.Request) error { return change(t, r, s.now()) }))
	if errors.Is(err, errReplay) {
		return s.replayChange(ctx, tenantID, id)
	}
	if err != nil {
		return nil, err
	}
	s.flushQuietly(ctx, r)
	return r, nil
}

// load reads a tenant and one of its requests, as user errors when absent.
func (s *Service) load(ctx context.Context, tenantID, id string) (*privacy.Tenant, *privacy.Request, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.request(ctx, t.ID, id)
	if err != nil {
		return nil, nil, err
	}
	return t, r, nil
}
