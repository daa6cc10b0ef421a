package breach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Escalation points of a running clock, as fractions of its length: half
// run unacknowledged, the primary contacts are reminded; three quarters, the
// secondary contacts are told; ended, both are told it is overdue.
var levels = []struct {
	frac   float64
	reason string
}{{0.5, ReasonReminder}, {0.75, ReasonEscalation}, {1, ReasonOverdue}}

// pointAt returns when clock c reaches the fraction f of its length.
func pointAt(c Clock, f float64) time.Time {
	return c.TriggerAt.Add(time.Duration(float64(c.DueAt.Sub(c.TriggerAt)) * f))
}

// escalating says whether a clock drives escalations of a notice: a clock
// with a due time, not met, of the processor (towards the tenant) or of the
// controller (the tenant's own), while the notice is not acknowledged.
func escalating(c Clock) bool {
	return !c.DueAt.IsZero() && (c.Status == ClockRunning || c.Status == ClockOverdue) && c.Party != PartyOperator
}

// asIncident is the incident as far as the notice knows it.
func (n *Notice) asIncident() *Incident {
	return &Incident{ID: n.IncidentID, DetectedAt: n.DetectedAt, AwareAt: n.AwareAt, DeterminedAt: n.DeterminedAt,
		Jurisdictions: n.Jurisdictions, Grade: n.Grade, Facts: n.Facts, Status: n.Status}
}

// Clocks returns a notice's clocks: the processor's towards the tenant and
// the tenant's own, with the tenant's SLA and LGPD attributes.
func (s *Service) Clocks(ctx context.Context, n *Notice) ([]Clock, error) {
	t, err := s.d.Tenants.GetTenant(ctx, n.TenantID)
	if err != nil {
		return nil, err
	}
	return s.noticeClocks(t, n), nil
}

func (s *Service) noticeClocks(t *privacy.Tenant, n *Notice) []Clock {
	return s.Rules().Compute(n.asIncident(), ClockInput{Notice: n, SLAHours: t.Breach.SLA(), SmallAgent: t.LGPDSmallAgent}, s.now())
}

// noticeAttention returns when the watch should next look at a settled
// notice: the next escalation point not yet taken, zero when none.
func (s *Service) noticeAttention(ctx context.Context, n *Notice) (time.Time, error) {
	if !n.AcknowledgedAt.IsZero() {
		return time.Time{}, nil
	}
	clocks, err := s.Clocks(ctx, n)
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	for _, c := range clocks {
		if !escalating(c) {
			continue
		}
		for _, l := range levels {
			if n.escalated(c.ID, l.reason) {
				continue
			}
			if p := pointAt(c, l.frac); next.IsZero() || p.Before(next) {
				next = p
			}
			break
		}
	}
	return next, nil
}

// incidentAttention returns when the watch should next look at an incident
// whose outbox is done: the next escalation point of an operator clock.
func (s *Service) incidentAttention(inc *Incident) time.Time {
	var next time.Time
	for _, c := range s.OperatorClocks(inc) {
		if c.DueAt.IsZero() || c.Status != ClockRunning && c.Status != ClockOverdue {
			continue
		}
		for _, l := range levels {
			if slices.ContainsFunc(inc.Escalations, func(e Escalation) bool { return e.Clock == c.ID && e.Level == l.reason }) {
				continue
			}
			if p := pointAt(c, l.frac); next.IsZero() || p.Before(next) {
				next = p
			}
			break
		}
	}
	return next
}

// WatchReport counts what one watch run did.
type WatchReport struct {
	Incidents   int // incident outboxes finished or operator clocks escalated
	Notices     int // notice outboxes finished
	Escalations int // escalations recorded
	Failed      int
}

// Watch is the deadline watch's breach step: it finishes incident and
// notice outboxes a crash left, and escalates every clock that reached an
// escalation point, including one that ended while the process was down
// (each escalation recorded once per clock and level). limit bounds the
// documents read per query.
func (s *Service) Watch(ctx context.Context, limit int) (WatchReport, error) {
	var rep WatchReport
	now := s.now()
	incs, err := s.d.Store.IncidentsNeedingAttention(ctx, now, limit)
	if err != nil {
		return rep, fmt.Errorf("incidents needing attention: %w", err)
	}
	var errs []error
	for _, inc := range incs {
		if err := s.watchIncident(ctx, inc, &rep); err != nil {
			rep.Failed++
			errs = append(errs, err)
		}
	}
	tenants, err := s.d.Tenants.ListTenants(ctx)
	if err != nil {
		return rep, errors.Join(append(errs, err)...)
	}
	for _, t := range tenants {
		ns, err := s.d.Store.NoticesNeedingAttention(ctx, t.ID, now, limit)
		if err != nil {
			rep.Failed++
			errs = append(errs, err)
			continue
		}
		for _, n := range ns {
			if err := s.watchNotice(ctx, t, n, &rep); err != nil {
				rep.Failed++
				errs = append(errs, err)
			}
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Service) watchIncident(ctx context.Context, inc *Incident, rep *WatchReport) error {
	rep.Incidents++
	now := s.now()
	for _, c := range s.OperatorClocks(inc) {
		if c.DueAt.IsZero() || c.Status != ClockRunning && c.Status != ClockOverdue {
			continue
		}
		for _, l := range levels {
			if now.Before(pointAt(c, l.frac)) || slices.ContainsFunc(inc.Escalations, func(e Escalation) bool { return e.Clock == c.ID && e.Level == l.reason }) {
				continue
			}
			inc.Escalations = append(inc.Escalations, Escalation{Clock: c.ID, Level: l.reason, At: now, DueAt: c.DueAt,
				Action: "the operator's security team is alerted (operator audit chain and log)"})
			inc.PendingAudit = append(inc.PendingAudit, auditEvent(privacy.OperatorTenant, hashID("aud_", inc.ID, "esc", c.ID, l.reason), now,
				"system", "incident.escalated", "incident/"+inc.ID, map[string]string{"clock": c.ID, "level": l.reason, "dueAt": c.DueAt.Format(time.RFC3339)}))
			s.d.Logger.WarnContext(ctx, "operator breach clock escalated", "incident_id", inc.ID, "clock", c.ID, "level", l.reason, "due_at", c.DueAt)
			rep.Escalations++
		}
	}
	return s.finishIncident(ctx, inc)
}

// watchNotice finishes a notice's outbox, then escalates its clocks.
func (s *Service) watchNotice(ctx context.Context, t *privacy.Tenant, n *Notice, rep *WatchReport) error {
	if len(n.Pending) > 0 || len(n.PendingAudit) > 0 {
		rep.Notices++
		if err := s.deliver(ctx, n); err != nil {
			return err
		}
	}
	if !n.AcknowledgedAt.IsZero() {
		return nil
	}
	now := s.now()
	var escs []Escalation
	var sends []Send
	for _, c := range s.noticeClocks(t, n) {
		if !escalating(c) {
			continue
		}
		for _, l := range levels {
			if now.Before(pointAt(c, l.frac)) || n.escalated(c.ID, l.reason) {
				continue
			}
			e := Escalation{Clock: c.ID, Level: l.reason, At: now, DueAt: c.DueAt}
			switch l.reason {
			case ReasonReminder:
				e.Action = "the primary contacts are reminded"
				sends = append(sends, Send{Key: "esc-" + c.ID + "-" + l.reason + "-primary", Version: n.Version, Channel: ChannelMail, Role: privacy.ContactPrimary, Reason: l.reason})
			case ReasonEscalation:
				e.Action = "the secondary contacts are told"
				sends = append(sends, Send{Key: "esc-" + c.ID + "-" + l.reason + "-secondary", Version: n.Version, Channel: ChannelMail, Role: privacy.ContactSecondary, Reason: l.reason})
			default:
				e.Action = "the clock ended unacknowledged: primary and secondary contacts are told"
				sends = append(sends,
					Send{Key: "esc-" + c.ID + "-" + l.reason + "-primary", Version: n.Version, Channel: ChannelMail, Role: privacy.ContactPrimary, Reason: l.reason},
					Send{Key: "esc-" + c.ID + "-" + l.reason + "-secondary", Version: n.Version, Channel: ChannelMail, Role: privacy.ContactSecondary, Reason: l.reason})
			}
			escs = append(escs, e)
		}
	}
	if len(escs) == 0 {
		return s.settleNotice(ctx, n)
	}
	// One send per reason and role, however many clocks reached it.
	seen := map[string]bool{}
	var uniq []Send
	for _, snd := range sends {
		k := snd.Reason + "/" + snd.Role
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, snd)
		}
	}
	if err := s.updateNotice(ctx, n, func(n *Notice) bool {
		changed := false
		for _, e := range escs {
			if n.escalated(e.Clock, e.Level) {
				continue
			}
			changed = true
			n.Escalations = append(n.Escalations, e)
			n.PendingAudit = append(n.PendingAudit, auditEvent(n.TenantID, hashID("aud_", n.ID, n.TenantID, "esc", e.Clock, e.Level), e.At,
				"system", "breach.notice.escalated", "incident/"+n.ID, map[string]string{"clock": e.Clock, "level": e.Level, "dueAt": e.DueAt.Format(time.RFC3339)}))
		}
		if !changed {
			return false
		}
		for _, snd := range uniq {
			if !slices.ContainsFunc(n.Pending, func(p Send) bool { return p.Key == snd.Key }) {
				n.Pending = append(n.Pending, snd)
			}
		}
		return true
	}); err != nil {
		return err
	}
	rep.Escalations += len(escs)
	return s.deliver(ctx, n)
}
