// Package breach is the breach-notification capability: incidents (GDPR Art.
// 33(3) and 33(5)) declared by the operator's security team or reported by a
// sub-processor, their phased reports (Art. 33(4)), the fan-out of a notice to
// every affected tenant's security contacts (mail, optional signed webhook, in
// English or Simplified Chinese), the legal clocks of each incident and
// tenant computed from the rules file clocks.json, the escalation of a clock
// nearing its end (called by the hourly deadline watch), and the authority
// report each tenant files.
//
// Incidents are operator records (partition privacy.OperatorTenant); each
// affected tenant gets a Notice in its own partition, which shows it its own
// notice only, never the other tenants affected. Each state change is one
// ETag-guarded write carrying an outbox of what must follow (tenants still to
// get a notice, mails still to send, audit events); a crash between two steps
// leaves the outbox, which the deadline watch finishes.
//
// The domain uses the standard library only; time comes from Deps.Now.
package breach

import (
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Risk levels (GDPR Art. 33(1), 34(1)).
const (
	RiskNone = "none" // unlikely to result in a risk: documented, not reported (Art. 33(5))
	RiskLow  = "low"
	RiskHigh = "high" // likely high risk: data subjects are told (Art. 34(1))
)

// Incident statuses.
const (
	StatusOpen      = "open"
	StatusContained = "contained"
	StatusClosed    = "closed"
)

// CAC grades (National Cybersecurity Incident Reporting Measures, in force 1
// Nov 2025) and operator classes; the reporting duty starts at
// "relatively-major".
const (
	GradeGeneral         = "general"
	GradeRelativelyMajor = "relatively-major"
	GradeMajor           = "major"
	GradeEspeciallyMajor = "especially-major"

	ClassCII        = "cii"         // critical information infrastructure: 1 h
	ClassStateOrgan = "state-organ" // central and state organs: 2 h
	ClassOther      = "other"       // all other operators: 4 h
)

var (
	risks   = []string{RiskNone, RiskLow, RiskHigh}
	grades  = []string{GradeGeneral, GradeRelativelyMajor, GradeMajor, GradeEspeciallyMajor}
	classes = []string{ClassCII, ClassStateOrgan, ClassOther}
	// Jurisdictions an incident may name; each has clocks in clocks.json.
	Jurisdictions = []string{"eu-gdpr", "uk-gdpr", "uk-pecr", "cn", "br-lgpd", "us-ca", "us-tx", "us-ny", "us-fl", "us-co"}
)

// Facts are what is known of an incident, as GDPR Art. 33(3) lists it; each
// phased report may change them. Free text holds no data subject's data.
type Facts struct {
	Title         string   `json:"title"`
	Nature        string   `json:"nature"`
	Categories    []string `json:"categories"`    // categories of personal data concerned
	SubjectGroups []string `json:"subjectGroups"` // categories of data subjects (customers, employees, ...)
	// Approximate numbers of data subjects and of records concerned.
	SubjectsApprox int64  `json:"subjectsApprox"`
	RecordsApprox  int64  `json:"recordsApprox"`
	Consequences   string `json:"consequences"`
	Measures       string `json:"measures"`
	Contact        string `json:"contact"` // the operator's DPO or other contact point
	Risk           string `json:"risk"`
	// Cause and DelayReason feed the authority report (PIPL Art. 57 asks for
	// the causes; GDPR Art. 33(1) for the reasons of a late notice).
	Cause       string `json:"cause,omitempty"`
	DelayReason string `json:"delayReason,omitempty"`
	// Residents are the approximate numbers of affected residents per US
	// jurisdiction ("us-tx": 300): the attorney-general thresholds read them.
	Residents map[string]int64 `json:"residents,omitempty"`
}

// Scope is a set of the operator's platform services and regions; it
// resolves to every tenant whose breach settings name one of the services
// (or any when none is given) in one of the regions (or any when none is
// given).
type Scope struct {
	Services []string `json:"services,omitempty"`
	Regions  []string `json:"regions,omitempty"`
}

// Matches reports whether a tenant with settings b is in the scope.
func (s Scope) Matches(b *privacy.BreachSettings) bool {
	if b == nil || len(s.Services) == 0 && len(s.Regions) == 0 {
		return false
	}
	overlap := func(want, have []string) bool {
		return len(want) == 0 || slices.ContainsFunc(want, func(x string) bool { return slices.Contains(have, x) })
	}
	return overlap(s.Services, b.Services) && overlap(s.Regions, b.Regions)
}

// Incident is the operator's record of one breach (GDPR Art. 33(5): every
// breach is documented, notified or not, with the reason).
type Incident struct {
	TenantID string `json:"tenantId"` // always privacy.OperatorTenant
	ID       string `json:"id"`
	// Who reported it: the operator's security officer, or a sub-processor
	// (Source is its CloudEvents source, EventID the event's id).
	ReportedBy   string `json:"reportedBy"`
	Source       string `json:"source,omitempty"`
	EventID      string `json:"eventId,omitempty"`
	ReportTenant string `json:"reportTenant,omitempty"` // the tenant whose key signed a sub-processor report
	// The processor's (operator's) own triggers: when the incident was
	// detected and when the operator became aware (EDPB: a reasonable degree
	// of certainty that personal data was compromised), and when it
	// determined that a breach occurred (the US trigger; defaults to aware).
	DetectedAt   time.Time `json:"detectedAt"`
	AwareAt      time.Time `json:"awareAt"`
	DeterminedAt time.Time `json:"determinedAt"`
	// Jurisdictions where affected data subjects reside (clocks.json keys).
	Jurisdictions []string `json:"jurisdictions"`
	// Grade and OperatorClass drive the CAC clock.
	Grade         string `json:"grade,omitempty"`
	OperatorClass string `json:"operatorClass,omitempty"`
	Facts
	Scope   *Scope   `json:"scope,omitempty"`
	Tenants []string `json:"tenants"` // affected tenants, resolved
	Status  string   `json:"status"`
	// NoNoticeReason says why no tenant was notified (no tenant affected,
	// or no risk): recorded, as Art. 33(5) and the ICO ask.
	NoNoticeReason string `json:"noNoticeReason,omitempty"`
	// Met records when the operator met one of its own clocks (by clock id),
	// and Escalations the watch's steps on them.
	Met         map[string]time.Time `json:"met,omitempty"`
	Escalations []Escalation         `json:"escalations,omitempty"`
	// Reports are the phased reports, version 1 the initial one.
	Reports []Report `json:"reports"`
	// IdemHash fingerprints the declaration of an incident declared with an
	// Idempotency-Key, so a key reused for another declaration is refused.
	IdemHash string `json:"idemHash,omitempty"`
	// Pending is the outbox: tenants whose notice of the latest version is
	// not yet created; PendingAudit the operator-chain audit events to append.
	Pending      []string             `json:"pending,omitempty"`
	PendingAudit []privacy.AuditEvent `json:"pendingAudit,omitempty"`
	// AttentionAt is when the watch should look at it (set while Pending is
	// not empty).
	AttentionAt time.Time `json:"attentionAt,omitzero"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	ETag        string    `json:"-"`
}

// Report is one phased report (GDPR Art. 33(4)): a versioned snapshot of
// the facts, with its own clock (the LGPD 20-business-day supplement; GDPR
// "without undue further delay").
type Report struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Summary string    `json:"summary"` // what this report adds
	Facts   Facts     `json:"facts"`
}

// Latest returns the incident's latest report version.
func (in *Incident) Latest() int { return len(in.Reports) }

// Determined returns the US "determination" trigger.
func (in *Incident) Determined() time.Time {
	if in.DeterminedAt.IsZero() {
		return in.AwareAt
	}
	return in.DeterminedAt
}
