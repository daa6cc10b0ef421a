package breach

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/privops/privops/shared/privacy"
)

// Declaration is a new incident as the operator API or a sub-processor
// report gives it.
type Declaration struct {
	DetectedAt    time.Time `json:"detectedAt"`
	AwareAt       time.Time `json:"awareAt"`
	DeterminedAt  time.Time `json:"determinedAt,omitzero"`
	Jurisdictions []string  `json:"jurisdictions"`
	Grade         string    `json:"grade,omitempty"`
	OperatorClass string    `json:"operatorClass,omitempty"`
	Facts
	// Tenants lists the affected tenants, or Scope resolves them (not both).
	Tenants []string `json:"tenants,omitempty"`
	Scope   *Scope   `json:"scope,omitempty"`
	Status  string   `json:"status,omitempty"`
}

// Origin says who declares an incident.
type Origin struct {
	Actor string // "operator:<sub>" or "system:<source>"
	// A sub-processor report: its CloudEvents source and id, and the tenant
	// whose key signed it. The incident id is derived from them, so a
	// duplicate report is the same incident.
	Source, EventID, ReportTenant string
	// IdempotencyKey (operator API, optional): the same declaration sent
	// again by the same actor with the same key returns the first incident;
	// the key reused for another declaration is 409 idempotency-key-reused.
	IdempotencyKey string
}

func invalid(field, format string, args ...any) error {
	return privacy.FieldErrorf(field, "invalid-incident", format, args...)
}

// checkText bounds a free-text field.
func checkText(field, v string, required bool, max int) error {
	if required && strings.TrimSpace(v) == "" {
		return invalid(field, "%s is required", field)
	}
	if utf8.RuneCountInString(v) > max {
		return invalid(field, "%s is at most %d characters", field, max)
	}
	return nil
}

// Validate checks facts (every report carries a full set).
func (f *Facts) Validate() error {
	for _, c := range []struct {
		field, v string
		req      bool
		max      int
	}{{"title", f.Title, true, 200}, {"nature", f.Nature, true, 4000}, {"consequences", f.Consequences, true, 4000},
		{"measures", f.Measures, true, 4000}, {"contact", f.Contact, true, 500}, {"cause", f.Cause, false, 4000},
		{"delayReason", f.DelayReason, false, 4000}} {
		if err := checkText(c.field, c.v, c.req, c.max); err != nil {
			return err
		}
	}
	if len(f.Categories) == 0 || len(f.Categories) > 50 {
		return invalid("categories", "categories of personal data: 1 to 50")
	}
	for _, list := range []struct {
		field string
		v     []string
	}{{"categories", f.Categories}, {"subjectGroups", f.SubjectGroups}} {
		if len(list.v) > 50 {
			return invalid(list.field, "at most 50 %s", list.field)
		}
		for _, c := range list.v {
			if err := checkText(list.field, c, true, 100); err != nil {
				return err
			}
		}
	}
	if f.SubjectsApprox < 0 || f.RecordsApprox < 0 {
		return invalid("subjectsApprox", "approximate numbers cannot be negative")
	}
	if !slices.Contains(risks, f.Risk) {
		return invalid("risk", "risk must be one of %s", strings.Join(risks, ", "))
	}
	for j, n := range f.Residents {
		if !strings.HasPrefix(j, "us-") || !slices.Contains(Jurisdictions, j) || n < 0 {
			return invalid("residents", "residents are counted per US jurisdiction (us-ca, us-tx, ...), not negative")
		}
	}
	return nil
}

func (d *Declaration) validate(now time.Time) error {
	if err := d.Facts.Validate(); err != nil {
		return err
	}
	switch {
	case d.DetectedAt.IsZero():
		return invalid("detectedAt", "detectedAt is required")
	case d.AwareAt.IsZero():
		return invalid("awareAt", "awareAt is required")
	case d.AwareAt.Before(d.DetectedAt):
		return invalid("awareAt", "awareAt cannot be before detectedAt")
	case d.AwareAt.After(now.Add(5 * time.Minute)):
		return invalid("awareAt", "awareAt cannot be in the future")
	case !d.DeterminedAt.IsZero() && d.DeterminedAt.Before(d.DetectedAt):
		return invalid("determinedAt", "determinedAt cannot be before detectedAt")
	case len(d.Jurisdictions) == 0:
		return invalid("jurisdictions", "name at least one jurisdiction where affected data subjects reside")
	case d.Grade != "" && !slices.Contains(grades, d.Grade):
		return invalid("grade", "grade must be one of %s", strings.Join(grades, ", "))
	case d.OperatorClass != "" && !slices.Contains(classes, d.OperatorClass):
		return invalid("operatorClass", "operatorClass must be one of %s", strings.Join(classes, ", "))
	case len(d.Tenants) > 0 && d.Scope != nil:
		return invalid("tenants", "give either tenants or a scope, not both")
	case len(d.Tenants) > 10000:
		return invalid("tenants", "at most 10000 tenants")
	case d.Status != "" && d.Status != StatusOpen && d.Status != StatusContained:
		return invalid("status", "a new incident is open or contained")
	}
	for _, j := range d.Jurisdictions {
		if !slices.Contains(Jurisdictions, j) {
			return invalid("jurisdictions", "jurisdictions are %s", strings.Join(Jurisdictions, ", "))
		}
	}
	if slices.Contains(d.Jurisdictions, "cn") && d.Grade == "" {
		return invalid("grade", "an incident in China needs its CAC grade")
	}
	for _, t := range d.Tenants {
		if !privacy.ValidTenantID(t) {
			return invalid("tenants", "tenant ids are 3-40 of a-z, 0-9 and '-'")
		}
	}
	if d.Scope != nil {
		if len(d.Scope.Services) == 0 && len(d.Scope.Regions) == 0 {
			return invalid("scope", "a scope names services, regions or both")
		}
		if len(d.Scope.Services)+len(d.Scope.Regions) > 200 {
			return invalid("scope", "at most 200 services and regions")
		}
	}
	return nil
}

// Resolve returns the tenants a scope reaches, sorted.
func (s *Service) Resolve(ctx context.Context, sc Scope) ([]string, error) {
	if len(sc.Services) == 0 && len(sc.Regions) == 0 {
		return nil, invalid("scope", "a scope names services, regions or both")
	}
	ts, err := s.d.Tenants.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve scope: %w", err)
	}
	out := []string{}
	for _, t := range ts {
		if sc.Matches(t.Breach) {
			out = append(out, t.ID)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Declare registers an incident and notifies every affected tenant. Every
// incident is registered, notified or not: with no tenant affected, or a
// risk of none, the reason is recorded (GDPR Art. 33(5)). A sub-processor
// report (o.Source set) gets an id derived from its source and event id: a
// duplicate report returns the first incident and changes nothing.
func (s *Service) Declare(ctx context.Context, d Declaration, o Origin) (*Incident, bool, error) {
	now := s.now()
	if err := d.validate(now); err != nil {
		return nil, false, err
	}
	id := "inc_" + s.d.NewID()
	fingerprint := ""
	switch {
	case o.Source != "":
		id = hashID("inc_", o.ReportTenant, o.Source, o.EventID)
	case o.IdempotencyKey != "":
		if len(o.IdempotencyKey) > 200 {
			return nil, false, privacy.Errorf(privacy.KindInvalid, "invalid-idempotency-key", "Idempotency-Key must be at most 200 characters")
		}
		id = hashID("inc_", "idempotency-key", o.Actor, o.IdempotencyKey)
		b, _ := json.Marshal(d)
		fingerprint = hashID("", string(b))
	}
	if o.Source != "" || o.IdempotencyKey != "" {
		prev, err := s.d.Store.GetIncident(ctx, id)
		switch {
		case err == nil && prev.IdemHash != fingerprint:
			return nil, false, privacy.Errorf(privacy.KindConflict, "idempotency-key-reused", "the Idempotency-Key was used for another declaration")
		case err == nil:
			return prev, false, nil
		case !errors.Is(err, privacy.ErrNotFound):
			return nil, false, fmt.Errorf("declare incident: %w", err)
		}
	}
	tenants := slices.Clone(d.Tenants)
	if d.Scope != nil {
		var err error
		if tenants, err = s.Resolve(ctx, *d.Scope); err != nil {
			return nil, false, err
		}
	}
	slices.Sort(tenants)
	tenants = slices.Compact(tenants)
	for _, t := range tenants {
		if _, err := s.d.Tenants.GetTenant(ctx, t); errors.Is(err, privacy.ErrNotFound) {
			return nil, false, privacy.FieldErrorf("tenants", "unknown-tenant", "no tenant %s", t)
		} else if err != nil {
			return nil, false, fmt.Errorf("declare incident: %w", err)
		}
	}
	status := d.Status
	if status == "" {
		status = StatusOpen
	}
	in := &Incident{TenantID: privacy.OperatorTenant, ID: id, ReportedBy: o.Actor, Source: o.Source, EventID: o.EventID,
		ReportTenant: o.ReportTenant, DetectedAt: d.DetectedAt.UTC(), AwareAt: d.AwareAt.UTC(), DeterminedAt: d.DeterminedAt.UTC(),
		Jurisdictions: slices.Clone(d.Jurisdictions), Grade: d.Grade, OperatorClass: d.OperatorClass, Facts: d.Facts,
		Scope: d.Scope, Tenants: tenants, Status: status, IdemHash: fingerprint, CreatedAt: now, UpdatedAt: now}
	if in.DeterminedAt.IsZero() {
		in.DeterminedAt = time.Time{}
	}
	in.Reports = []Report{{Version: 1, At: now, By: o.Actor, Summary: "initial report", Facts: d.Facts}}
	switch {
	case len(tenants) == 0:
		in.NoNoticeReason = "no tenant is affected: registered and documented only (GDPR Art. 33(5))"
	default:
		in.Pending = slices.Clone(tenants)
		in.AttentionAt = now.Add(s.cfg.OutboxLease)
	}
	in.PendingAudit = []privacy.AuditEvent{auditEvent(privacy.OperatorTenant, hashID("aud_", id, "declared"), now, o.Actor,
		"incident.declared", "incident/"+id, map[string]string{"tenants": strconv.Itoa(len(tenants)), "risk": d.Risk,
			"jurisdictions": strings.Join(d.Jurisdictions, ",")})}
	if err := s.d.Store.CreateIncident(ctx, in); errors.Is(err, privacy.ErrConflict) && (o.Source != "" || o.IdempotencyKey != "") {
		// A concurrent duplicate won the create: its incident is ours.
		prev, err := s.d.Store.GetIncident(ctx, id)
		return prev, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("declare incident: %w", err)
	}
	s.step("incident-created")
	if err := s.finishIncident(ctx, in); err != nil {
		// The outbox stays; the watch finishes it. The incident exists.
		s.d.Logger.WarnContext(ctx, "incident fan-out left to the watch", "incident_id", id, "error", err.Error())
	}
	return in, true, nil
}

// Incident reads an incident (operator view).
func (s *Service) Incident(ctx context.Context, id string) (*Incident, error) {
	in, err := s.d.Store.GetIncident(ctx, id)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-incident", "no such incident")
	}
	return in, err
}

// Incidents pages through incidents, newest first.
func (s *Service) Incidents(ctx context.Context, cursor string, limit int) (IncidentPage, error) {
	return s.d.Store.ListIncidents(ctx, cursor, limit)
}

// ReportInput is a phased report: the full facts as now known and a summary
// of what changed; Status may move the incident on.
type ReportInput struct {
	Summary string `json:"summary"`
	Facts
	Status string `json:"status,omitempty"`
}

// AddReport records a phased report (GDPR Art. 33(4)) as the next version
// and notifies every affected tenant of it.
func (s *Service) AddReport(ctx context.Context, id string, in ReportInput, actor string) (*Incident, error) {
	if err := checkText("summary", in.Summary, true, 4000); err != nil {
		return nil, err
	}
	if err := in.Facts.Validate(); err != nil {
		return nil, err
	}
	if in.Status != "" && !slices.Contains([]string{StatusOpen, StatusContained, StatusClosed}, in.Status) {
		return nil, invalid("status", "status must be open, contained or closed")
	}
	for {
		inc, err := s.Incident(ctx, id)
		if err != nil {
			return nil, err
		}
		now := s.now()
		v := inc.Latest() + 1
		inc.Reports = append(inc.Reports, Report{Version: v, At: now, By: actor, Summary: in.Summary, Facts: in.Facts})
		inc.Facts = in.Facts
		if in.Status != "" {
			inc.Status = in.Status
		}
		inc.UpdatedAt = now
		for _, t := range inc.Tenants {
			if !slices.Contains(inc.Pending, t) {
				inc.Pending = append(inc.Pending, t)
			}
		}
		if len(inc.Pending) > 0 {
			inc.AttentionAt = now.Add(s.cfg.OutboxLease)
		}
		inc.PendingAudit = append(inc.PendingAudit, auditEvent(privacy.OperatorTenant, hashID("aud_", id, "report", strconv.Itoa(v)),
			now, actor, "incident.reported", "incident/"+id, map[string]string{"version": strconv.Itoa(v)}))
		err = s.d.Store.UpdateIncident(ctx, inc)
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("add report to incident %s: %w", id, err)
		}
		if err := s.finishIncident(ctx, inc); err != nil {
			s.d.Logger.WarnContext(ctx, "incident fan-out left to the watch", "incident_id", id, "error", err.Error())
		}
		return inc, nil
	}
}

// MarkMet records that the operator met one of its own clocks (CAC report filed).
func (s *Service) MarkMet(ctx context.Context, id, clock string, at time.Time, actor string) (*Incident, error) {
	for {
		inc, err := s.Incident(ctx, id)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(s.Rules().Compute(inc, ClockInput{}, s.now()), func(c Clock) bool { return c.ID == clock }) {
			return nil, privacy.Errorf(privacy.KindNotFound, "unknown-clock", "the incident has no such operator clock")
		}
		if at.IsZero() {
			at = s.now()
		}
		if inc.Met == nil {
			inc.Met = map[string]time.Time{}
		}
		inc.Met[clock] = at.UTC()
		inc.UpdatedAt = s.now()
		inc.PendingAudit = append(inc.PendingAudit, auditEvent(privacy.OperatorTenant, hashID("aud_", id, "met", clock, at.String()),
			inc.UpdatedAt, actor, "incident.clock-met", "incident/"+id, map[string]string{"clock": clock}))
		if inc.AttentionAt.IsZero() {
			inc.AttentionAt = inc.UpdatedAt
		}
		if err := s.d.Store.UpdateIncident(ctx, inc); errors.Is(err, privacy.ErrConflict) {
			continue
		} else if err != nil {
			return nil, err
		}
		_ = s.finishIncident(ctx, inc)
		return inc, nil
	}
}

// OperatorClocks returns the operator's own clocks of an incident (CAC).
func (s *Service) OperatorClocks(inc *Incident) []Clock {
	return s.Rules().Compute(inc, ClockInput{}, s.now())
}
