package breach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// finishIncident carries out an incident's outbox: a notice for every
// pending tenant (created, or moved to the latest version), then the
// incident written without them, then its audit events; then each notice's
// sends. Every step is idempotent, so the watch may run it again.
func (s *Service) finishIncident(ctx context.Context, inc *Incident) error {
	var notices []*Notice
	for _, t := range inc.Pending {
		n, err := s.ensureNotice(ctx, inc, t)
		if err != nil {
			return err
		}
		if n == nil {
			continue // the tenant is offboarded, or being purged
		}
		notices = append(notices, n)
		s.step("notice-created")
	}
	for {
		inc.Pending = nil
		left, aerr := s.flushAudit(ctx, inc.PendingAudit)
		inc.PendingAudit = left
		inc.AttentionAt = s.incidentAttention(inc)
		if len(left) > 0 {
			inc.AttentionAt = s.now().Add(s.cfg.OutboxLease)
		}
		err := s.d.Store.UpdateIncident(ctx, inc)
		if errors.Is(err, privacy.ErrConflict) {
			// Another writer moved it on (a new report): its own fan-out
			// carries its pending tenants; reload and retry ours.
			fresh, gerr := s.d.Store.GetIncident(ctx, inc.ID)
			if gerr != nil {
				return gerr
			}
			*inc = *fresh
			if len(fresh.Pending) > 0 {
				return s.finishIncident(ctx, inc)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("clear incident outbox %s: %w", inc.ID, err)
		}
		if aerr != nil {
			return aerr
		}
		break
	}
	s.step("incident-fanned-out")
	var errs []error
	for _, n := range notices {
		if err := s.deliver(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ensureNotice creates the tenant's notice of the incident, or moves it to
// the incident's latest version, with the sends that version needs in its
// outbox. A tenant that is offboarded (gone) or whose offboarding purge
// has started gets no notice (nil, nil): its contract ended, its notices are
// deleted with the rest of its data, and a new one would outlive the purge.
// The incident still names it: it is the processor's own record of the
// breach (GDPR Art. 33(5)).
func (s *Service) ensureNotice(ctx context.Context, inc *Incident, tenantID string) (*Notice, error) {
	t, err := s.d.Tenants.GetTenant(ctx, tenantID)
	if errors.Is(err, privacy.ErrNotFound) {
		s.d.Logger.InfoContext(ctx, "no breach notice for an offboarded tenant", "tenant_id", tenantID, "incident", inc.ID)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("notice for tenant %s: %w", tenantID, err)
	}
	if t.Offboarding != nil && t.Offboarding.Purge != nil {
		s.d.Logger.InfoContext(ctx, "no breach notice for a tenant being purged", "tenant_id", tenantID, "incident", inc.ID)
		return nil, nil
	}
	for {
		now := s.now()
		n, err := s.d.Store.GetNotice(ctx, tenantID, inc.ID)
		create := errors.Is(err, privacy.ErrNotFound)
		if err != nil && !create {
			return nil, fmt.Errorf("notice for tenant %s: %w", tenantID, err)
		}
		if !create && n.Version >= inc.Latest() {
			return n, nil
		}
		if create {
			n = &Notice{TenantID: tenantID, ID: inc.ID, IncidentID: inc.ID, CreatedAt: now, Deliveries: []Delivery{}, Escalations: []Escalation{}}
		}
		v := inc.Latest()
		n.Version, n.DetectedAt, n.AwareAt, n.DeterminedAt = v, inc.DetectedAt, inc.AwareAt, inc.DeterminedAt
		n.Jurisdictions, n.Grade, n.Facts, n.Reports, n.Status = inc.Jurisdictions, inc.Grade, inc.Facts, inc.Reports, inc.Status
		n.UpdatedAt = now
		n.Pending = append(n.Pending, Send{Key: "v" + strconv.Itoa(v) + "-notice-primary", Version: v, Channel: ChannelMail,
			Role: privacy.ContactPrimary, Reason: ReasonNotice})
		if t.Breach != nil && t.Breach.WebhookURL != "" {
			n.Pending = append(n.Pending, Send{Key: "v" + strconv.Itoa(v) + "-notice-webhook", Version: v, Channel: ChannelWebhook, Reason: ReasonNotice})
		}
		if !n.SubjectApproved && inc.Risk == RiskHigh && t.Breach != nil && t.Breach.AutoApproveHighRisk {
			// The tenant's policy approves notifying data subjects of a
			// high-risk breach (GDPR Art. 34(1)) without a decision.
			n.SubjectApproved, n.SubjectApprovedAt, n.SubjectApprovedBy = true, now, "policy:autoApproveHighRisk"
		}
		n.PendingAudit = append(n.PendingAudit, auditEvent(tenantID, hashID("aud_", inc.ID, tenantID, "notice", strconv.Itoa(v)), now,
			"system", "breach.notice.created", "incident/"+inc.ID, map[string]string{"version": strconv.Itoa(v)}))
		n.AttentionAt = now.Add(s.cfg.OutboxLease)
		if create {
			err = s.d.Store.CreateNotice(ctx, n)
		} else {
			err = s.d.Store.UpdateNotice(ctx, n)
		}
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("notice for tenant %s: %w", tenantID, err)
		}
		return n, nil
	}
}

// deliver carries out a notice's outbox, one send at a time, each recorded
// in its own write. A mail is sent with a Message-ID derived from the
// notice, the send and the contact, so a send repeated after a crash is the
// same message (the outbox mailer overwrites its file). A transient failure
// leaves the send pending for the watch; a refused address is a bounce:
// recorded and escalated to the secondary contacts.
func (s *Service) deliver(ctx context.Context, n *Notice) error {
	t, err := s.d.Tenants.GetTenant(ctx, n.TenantID)
	if err != nil {
		return fmt.Errorf("deliver notice %s: %w", n.ID, err)
	}
	for len(n.Pending) > 0 {
		snd := n.Pending[0]
		dels, more, transient := s.send(ctx, t, n, snd)
		if transient != nil {
			return transient
		}
		s.step("notice-sent")
		if err := s.updateNotice(ctx, n, func(n *Notice) bool {
			if len(n.Pending) == 0 || n.Pending[0].Key != snd.Key {
				return false // another delivery recorded it
			}
			n.Pending = n.Pending[1:]
			for _, d := range dels {
				n.Deliveries = append(n.Deliveries, d)
				if d.Status == DeliverySent && n.NotifiedAt.IsZero() {
					n.NotifiedAt = d.At
				}
				n.PendingAudit = append(n.PendingAudit, auditEvent(n.TenantID, hashID("aud_", n.ID, n.TenantID, d.Key), d.At, "system",
					"breach.notice."+d.Status, "incident/"+n.ID, map[string]string{"channel": d.Channel, "role": d.Role,
						"reason": d.Reason, "version": strconv.Itoa(d.Version), "sinceAware": d.SinceAware}))
			}
			for _, m := range more {
				if !slices.ContainsFunc(n.Pending, func(p Send) bool { return p.Key == m.Key }) && !n.delivered(m.Key+"-0") {
					n.Pending = append(n.Pending, m)
					n.Escalations = append(n.Escalations, Escalation{Clock: "delivery", Level: ReasonBounce, At: s.now(),
						Action: "a primary address bounced: the secondary contacts are told"})
				}
			}
			return true
		}); err != nil {
			return err
		}
	}
	return s.settleNotice(ctx, n)
}

// send makes one send's deliveries. It returns the deliveries to record,
// any follow-up sends (a bounce escalates to the secondaries), or a
// transient error (nothing to record: the send stays pending).
func (s *Service) send(ctx context.Context, t *privacy.Tenant, n *Notice, snd Send) ([]Delivery, []Send, error) {
	now := s.now()
	since := now.Sub(n.AwareAt).Round(time.Second).String()
	if snd.Channel == ChannelWebhook {
		d := Delivery{Key: snd.Key + "-0", Channel: ChannelWebhook, Version: snd.Version, Reason: snd.Reason, At: now, SinceAware: since}
		switch {
		case t.Breach == nil || t.Breach.WebhookURL == "":
			d.Status, d.Detail = DeliveryNoContact, "no breach webhook is configured"
		case s.d.Hook == nil:
			d.Status, d.Detail = DeliveryFailed, "breach webhooks are not available in this deployment"
		default:
			body, _ := json.Marshal(s.webhookBody(n, snd))
			if err := s.d.Hook.Post(ctx, t.Breach.WebhookURL, []byte(t.Breach.WebhookSecret), body, t.AllowPrivateConnectors); err != nil {
				d.Status, d.Detail = DeliveryFailed, err.Error()
			} else {
				d.Status = DeliverySent
			}
		}
		return []Delivery{d}, nil, nil
	}
	contacts := t.Breach.ContactsFor(snd.Role)
	if len(contacts) == 0 {
		d := Delivery{Key: snd.Key + "-0", Channel: ChannelMail, Role: snd.Role, Version: snd.Version, Reason: snd.Reason, At: now,
			Status: DeliveryNoContact, Detail: "the tenant has no " + snd.Role + " security contact", SinceAware: since}
		var more []Send
		if snd.Role == privacy.ContactPrimary {
			more = append(more, Send{Key: snd.Key + "-to-secondary", Version: snd.Version, Channel: ChannelMail,
				Role: privacy.ContactSecondary, Reason: ReasonBounce})
		}
		return []Delivery{d}, more, nil
	}
	var dels []Delivery
	var more []Send
	for i, c := range contacts {
		key := snd.Key + "-" + strconv.Itoa(i)
		m := s.mail(t, n, snd, c, key)
		err := s.d.Mailer.Send(ctx, m)
		d := Delivery{Key: key, Channel: ChannelMail, Role: snd.Role, To: c.Email, Version: snd.Version, Reason: snd.Reason,
			At: s.now(), Status: DeliverySent, SinceAware: s.now().Sub(n.AwareAt).Round(time.Second).String()}
		switch {
		case errors.Is(err, privacy.ErrUnavailable) || ctx.Err() != nil:
			return nil, nil, fmt.Errorf("mail notice %s: %w", n.ID, err)
		case err != nil:
			// The mail server refused it for good (a 5xx reply): a bounce.
			d.Status, d.Detail = DeliveryBounced, "the mail server refused the address"
			if snd.Role == privacy.ContactPrimary {
				more = append(more, Send{Key: snd.Key + "-to-secondary", Version: snd.Version, Channel: ChannelMail,
					Role: privacy.ContactSecondary, Reason: ReasonBounce})
			}
		}
		dels = append(dels, d)
	}
	return dels, more, nil
}

// mailID is the Message-ID of one mail: letters and digits only.
func mailID(tenantID, noticeID, key string) string {
	return hashID("breach-", tenantID, noticeID, key)
}

// updateNotice re-reads the notice, applies change and writes it (guarded
// by its ETag; a conflict re-reads and re-applies). change returns false
// when there is nothing to write. n is replaced by the stored notice.
func (s *Service) updateNotice(ctx context.Context, n *Notice, change func(*Notice) bool) error {
	for attempt := 0; ; attempt++ {
		cur := n
		if attempt > 0 {
			fresh, err := s.d.Store.GetNotice(ctx, n.TenantID, n.ID)
			if err != nil {
				return err
			}
			cur = fresh
		}
		if !change(cur) {
			*n = *cur
			return nil
		}
		cur.UpdatedAt = s.now()
		if len(cur.Pending) > 0 || len(cur.PendingAudit) > 0 {
			cur.AttentionAt = s.now().Add(s.cfg.OutboxLease)
		}
		err := s.d.Store.UpdateNotice(ctx, cur)
		if errors.Is(err, privacy.ErrConflict) && attempt < 10 {
			continue
		}
		if err != nil {
			return fmt.Errorf("update notice %s of %s: %w", n.ID, n.TenantID, err)
		}
		*n = *cur
		return nil
	}
}

// settleNotice appends the notice's audit events, then writes it with its
// outbox empty and its next attention time (the next escalation point).
func (s *Service) settleNotice(ctx context.Context, n *Notice) error {
	_, aerr := s.flushAudit(ctx, n.PendingAudit)
	if aerr != nil {
		return aerr
	}
	flushed := len(n.PendingAudit)
	return s.updateNotice(ctx, n, func(n *Notice) bool {
		if len(n.Pending) > 0 {
			return false
		}
		n.PendingAudit = n.PendingAudit[min(flushed, len(n.PendingAudit)):]
		next, err := s.noticeAttention(ctx, n)
		if err != nil {
			next = s.now().Add(s.cfg.OutboxLease)
		}
		n.AttentionAt = next
		return true
	})
}
