package breach

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// errUnknownNotice is what a tenant gets for an incident it is not told of:
// the same answer whether the incident exists or not.
var errUnknownNotice = privacy.Errorf(privacy.KindNotFound, "unknown-incident", "no such incident")

// Notice reads a tenant's notice of an incident.
func (s *Service) Notice(ctx context.Context, tenantID, id string) (*Notice, error) {
	n, err := s.d.Store.GetNotice(ctx, tenantID, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, fmt.Errorf("notice %s: %w", id, errors.Join(errUnknownNotice, privacy.ErrNotFound))
	}
	return n, err
}

// Notices pages through a tenant's notices, newest first.
func (s *Service) Notices(ctx context.Context, tenantID, cursor string, limit int) (NoticePage, error) {
	return s.d.Store.ListNotices(ctx, tenantID, cursor, limit)
}

// Acknowledge records that the tenant acknowledged the notice's version
// (the admin API, or the signed link: by is "admin:<sub>" or "link").
// Acknowledging again, or an older version, changes nothing.
func (s *Service) Acknowledge(ctx context.Context, tenantID, id string, version int, by string) (*Notice, error) {
	n, err := s.Notice(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		version = n.Version
	}
	if version < 1 || version > n.Version {
		return nil, privacy.Errorf(privacy.KindUnprocessable, "unknown-version", "the notice has no version %d", version)
	}
	err = s.updateNotice(ctx, n, func(n *Notice) bool {
		if n.AckVersion >= version {
			return false
		}
		now := s.now()
		// AcknowledgedAt is the first acknowledgement (the controller knows
		// of the incident: escalation stops); AckVersion the latest version
		// acknowledged.
		if n.AcknowledgedAt.IsZero() {
			n.AcknowledgedAt = now
		}
		n.AcknowledgedBy, n.AckVersion = by, version
		n.PendingAudit = append(n.PendingAudit, auditEvent(tenantID, hashID("aud_", id, tenantID, "ack", strconv.Itoa(version)), now, by,
			"breach.notice.acknowledged", "incident/"+id, map[string]string{"version": strconv.Itoa(version),
				"sinceAware": now.Sub(n.AwareAt).Round(time.Second).String(), "sinceNotified": sinceOrEmpty(now, n.NotifiedAt)}))
		return true
	})
	if err != nil {
		return nil, err
	}
	return n, s.settleNotice(ctx, n)
}

func sinceOrEmpty(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return now.Sub(t).Round(time.Second).String()
}

// CheckAckLink verifies an acknowledgement link's signature: 403
// bad-ack-link if it does not match, whether the notice exists or not.
func (s *Service) CheckAckLink(tenantID, id string, version int, sig string) error {
	if !hmac.Equal([]byte(s.ackSig(tenantID, id, version)), []byte(sig)) {
		return privacy.Errorf(privacy.KindForbidden, "bad-ack-link", "the acknowledgement link is not valid")
	}
	return nil
}

// AcknowledgeByLink checks a signed link and acknowledges.
func (s *Service) AcknowledgeByLink(ctx context.Context, tenantID, id string, version int, sig string) (*Notice, error) {
	if err := s.CheckAckLink(tenantID, id, version, sig); err != nil {
		return nil, err
	}
	return s.Acknowledge(ctx, tenantID, id, version, "link")
}

// ApproveSubjectNotice records the tenant's approval of notifying data
// subjects (GDPR Art. 34). Approving again changes nothing.
func (s *Service) ApproveSubjectNotice(ctx context.Context, tenantID, id, by string) (*Notice, error) {
	n, err := s.Notice(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	err = s.updateNotice(ctx, n, func(n *Notice) bool {
		if n.SubjectApproved {
			return false
		}
		now := s.now()
		n.SubjectApproved, n.SubjectApprovedAt, n.SubjectApprovedBy = true, now, by
		n.PendingAudit = append(n.PendingAudit, auditEvent(tenantID, hashID("aud_", id, tenantID, "subject-approved"), now, by,
			"breach.subject-notice.approved", "incident/"+id, map[string]string{"version": strconv.Itoa(n.Version)}))
		return true
	})
	if err != nil {
		return nil, err
	}
	return n, s.settleNotice(ctx, n)
}

// MarkMetByTenant records that the tenant met one of its own clocks (it
// filed with the authority, told the attorney general, ...).
func (s *Service) MarkMetByTenant(ctx context.Context, tenantID, id, clock string, at time.Time, by string) (*Notice, error) {
	n, err := s.Notice(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	clocks, err := s.Clocks(ctx, n)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(clocks, func(c Clock) bool { return c.ID == clock && c.Party == PartyController }) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-clock", "the notice has no such clock of yours")
	}
	now := s.now()
	if at.IsZero() {
		at = now
	}
	if at.After(now.Add(5 * time.Minute)) {
		return nil, privacy.FieldErrorf("at", "invalid-time", "at cannot be in the future")
	}
	err = s.updateNotice(ctx, n, func(n *Notice) bool {
		if n.Met == nil {
			n.Met = map[string]time.Time{}
		}
		n.Met[clock] = at.UTC()
		n.PendingAudit = append(n.PendingAudit, auditEvent(tenantID, hashID("aud_", id, tenantID, "met", clock, at.String()), now, by,
			"breach.clock.met", "incident/"+id, map[string]string{"clock": clock}))
		return true
	})
	if err != nil {
		return nil, err
	}
	return n, s.settleNotice(ctx, n)
}

// SubjectNotice returns what the data-subject fan-out sends for the
// tenant's notice of an incident: the texts in every notice language and
// whether the tenant approved it. An incident the tenant is not told of is
// a wrapped privacy.ErrNotFound.
func (s *Service) SubjectNotice(ctx context.Context, tenantID, incidentID string) (SubjectNotice, error) {
	n, err := s.Notice(ctx, tenantID, incidentID)
	if err != nil {
		return SubjectNotice{}, err
	}
	t, err := s.d.Tenants.GetTenant(ctx, tenantID)
	if err != nil {
		return SubjectNotice{}, err
	}
	sn := SubjectNotice{IncidentID: n.IncidentID, Version: n.Version, Approved: n.SubjectApproved, ApprovedAt: n.SubjectApprovedAt,
		Subject: map[string]string{}, Text: map[string]string{}}
	for _, lang := range privacy.NoticeLanguages {
		sn.Subject[lang], sn.Text[lang] = subjectText(lang, t.Name, t.Contact, n.Facts)
	}
	return sn, nil
}
