package breach

import "time"

// IncidentView is what the operator API shows of an incident: the record,
// its operator clocks, and how far its fan-out is (counts, not the outbox).
type IncidentView struct {
	ID             string       `json:"id"`
	ReportedBy     string       `json:"reportedBy"`
	Source         string       `json:"source,omitempty"`
	EventID        string       `json:"eventId,omitempty"`
	ReportTenant   string       `json:"reportTenant,omitempty"`
	DetectedAt     time.Time    `json:"detectedAt"`
	AwareAt        time.Time    `json:"awareAt"`
	DeterminedAt   time.Time    `json:"determinedAt,omitzero"`
	Jurisdictions  []string     `json:"jurisdictions"`
	Grade          string       `json:"grade,omitempty"`
	OperatorClass  string       `json:"operatorClass,omitempty"`
	Facts          Facts        `json:"facts"`
	Scope          *Scope       `json:"scope,omitempty"`
	Tenants        []string     `json:"tenants"`
	Status         string       `json:"status"`
	NoNoticeReason string       `json:"noNoticeReason,omitempty"`
	Version        int          `json:"version"`
	Reports        []Report     `json:"reports"`
	PendingTenants int          `json:"pendingTenants"`
	Clocks         []Clock      `json:"clocks"`
	Escalations    []Escalation `json:"escalations"`
	CreatedAt      time.Time    `json:"createdAt"`
	UpdatedAt      time.Time    `json:"updatedAt"`
}

// ViewOf returns the operator's view of an incident.
func (s *Service) ViewOf(in *Incident) IncidentView {
	v := IncidentView{ID: in.ID, ReportedBy: in.ReportedBy, Source: in.Source, EventID: in.EventID, ReportTenant: in.ReportTenant,
		DetectedAt: in.DetectedAt, AwareAt: in.AwareAt, DeterminedAt: in.DeterminedAt, Jurisdictions: in.Jurisdictions,
		Grade: in.Grade, OperatorClass: in.OperatorClass, Facts: in.Facts, Scope: in.Scope, Tenants: in.Tenants, Status: in.Status,
		NoNoticeReason: in.NoNoticeReason, Version: in.Latest(), Reports: in.Reports, PendingTenants: len(in.Pending),
		Clocks: s.OperatorClocks(in), Escalations: in.Escalations, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt}
	if v.Tenants == nil {
		v.Tenants = []string{}
	}
	if v.Escalations == nil {
		v.Escalations = []Escalation{}
	}
	return v
}

// NoticeView is what a tenant sees of its notice: the incident's facts and
// reports, its own clocks, deliveries, escalations and acknowledgement;
// never another tenant.
type NoticeView struct {
	IncidentID        string       `json:"incidentId"`
	Version           int          `json:"version"`
	DetectedAt        time.Time    `json:"detectedAt"`
	AwareAt           time.Time    `json:"awareAt"`
	Jurisdictions     []string     `json:"jurisdictions"`
	Facts             Facts        `json:"facts"`
	Reports           []Report     `json:"reports"`
	Status            string       `json:"status"`
	NotifiedAt        time.Time    `json:"notifiedAt,omitzero"`
	AcknowledgedAt    time.Time    `json:"acknowledgedAt,omitzero"`
	AcknowledgedBy    string       `json:"acknowledgedBy,omitempty"`
	AckVersion        int          `json:"ackVersion"`
	SinceAware        *Durations   `json:"sinceAware"`
	SubjectApproved   bool         `json:"subjectApproved"`
	SubjectApprovedAt time.Time    `json:"subjectApprovedAt,omitzero"`
	SubjectApprovedBy string       `json:"subjectApprovedBy,omitempty"`
	Clocks            []Clock      `json:"clocks"`
	Deliveries        []Delivery   `json:"deliveries"`
	Escalations       []Escalation `json:"escalations"`
	PendingSends      int          `json:"pendingSends"`
	CreatedAt         time.Time    `json:"createdAt"`
	UpdatedAt         time.Time    `json:"updatedAt"`
	// StrippedAt: a breach-records retention policy removed the notice's
	// personal data and kept its documentation (Notice.Strip).
	StrippedAt time.Time `json:"strippedAt,omitzero"`
}

// Durations are the times from the processor's awareness to the first
// notice and to the acknowledgement (Go duration strings, "" until then).
type Durations struct {
	ToNotice          string `json:"toNotice"`
	ToAcknowledgement string `json:"toAcknowledgement"`
}

// NoticeViewOf returns the tenant's view of its notice with clocks.
func NoticeViewOf(n *Notice, clocks []Clock) NoticeView {
	v := NoticeView{IncidentID: n.IncidentID, Version: n.Version, DetectedAt: n.DetectedAt, AwareAt: n.AwareAt,
		Jurisdictions: n.Jurisdictions, Facts: n.Facts, Reports: n.Reports, Status: n.Status, NotifiedAt: n.NotifiedAt,
		AcknowledgedAt: n.AcknowledgedAt, AcknowledgedBy: n.AcknowledgedBy, AckVersion: n.AckVersion,
		SubjectApproved: n.SubjectApproved, SubjectApprovedAt: n.SubjectApprovedAt, SubjectApprovedBy: n.SubjectApprovedBy,
		Clocks: clocks, Deliveries: n.Deliveries, Escalations: n.Escalations, PendingSends: len(n.Pending),
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, StrippedAt: n.StrippedAt, SinceAware: &Durations{}}
	if !n.NotifiedAt.IsZero() {
		v.SinceAware.ToNotice = n.NotifiedAt.Sub(n.AwareAt).String()
	}
	if !n.AcknowledgedAt.IsZero() {
		v.SinceAware.ToAcknowledgement = n.AcknowledgedAt.Sub(n.AwareAt).String()
	}
	if v.Deliveries == nil {
		v.Deliveries = []Delivery{}
	}
	if v.Escalations == nil {
		v.Escalations = []Escalation{}
	}
	if v.Clocks == nil {
		v.Clocks = []Clock{}
	}
	return v
}
