package privacy

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Tenant is a controller whose data subjects privops serves. Every document the
// suite stores carries the tenant id as its partition key.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Regimes the tenant answers under. A regime applies to a request when the
	// subject lives in its territory (see deadline rules), or always when it is
	// listed in Establishment.
	Regimes []string `json:"regimes"`
	// Establishment lists regimes that apply to every request whatever the
	// subject's residence (GDPR Art. 3(1): an EU-established controller).
	Establishment []string `json:"establishment,omitempty"`
	// TimeZone is the IANA zone whose calendar days the deadlines count in.
	TimeZone string `json:"timeZone"`
	// PortalOrigins are the tenant's own portal origins allowed by CORS.
	PortalOrigins []string `json:"portalOrigins,omitempty"`
	// PIPLDays is the tenant's response period under PIPL, which sets none
	// ("in a timely manner", Art. 45); GB/T 35273-2020 §8.7 recommends 30 days.
	PIPLDays int `json:"piplDays"`
	// LGPDSmallAgent doubles LGPD periods (Res. CD/ANPD 2/2022).
	LGPDSmallAgent bool `json:"lgpdSmallAgent,omitempty"`
	// DefaultDays is the tenant's own response commitment used when no regime
	// applies to a subject.
	DefaultDays int `json:"defaultDays"`
	// Contact is the tenant's privacy contact shown in notices (a role mailbox,
	// not a data subject).
	Contact string `json:"contact,omitempty"`
	// Brand is the privacy center's look: colours and logo.
	Brand Brand `json:"brand,omitzero"`

	// Services are the tenant's systems holding personal data; every approved
	// request fans out to those that hold its categories.
	Services []Service `json:"services,omitempty"`
	// Holds are legal holds; they defer erasure of what they cover and keep it
	// from every retention sweep.
	Holds []Hold `json:"holds,omitempty"`
	// RetentionPolicies say how long each category of the tenant's data is
	// kept (see shared/retention, which validates them against legal floors).
	RetentionPolicies []RetentionPolicy `json:"retentionPolicies,omitempty"`
	// Retention is the state of the tenant's retention runs: the current
	// run's plan, checkpoint and counts, and the reports of recent runs.
	// shared/retention owns its shape; here it is opaque.
	Retention json.RawMessage `json:"retention,omitempty"`
	// InboundKeys sign the messages the tenant's own systems send over the
	// inbound queue; at most two are active, for rotation. Key ids are 1-64 of
	// a-z, 0-9 and '-'.
	InboundKeys []ServiceSecret `json:"inboundKeys,omitempty"`
	// AllowPrivateConnectors lets webhook connectors reach private and loopback
	// addresses (a tenant running services inside its own network). Off by
	// default: the SSRF guard refuses them.
	AllowPrivateConnectors bool `json:"allowPrivateConnectors,omitempty"`
	// ErasureGraceDays is the cancellable period between approval of an erasure
	// and the hard delete, during which services that can restrict the subject
	// do (default 30, as in the Azure and Office 365 DSR guides; 0 deletes at once).
	ErasureGraceDays *int `json:"erasureGraceDays,omitempty"`
	// ExportLinkDays is how long a download link to an export package works (default 7).
	ExportLinkDays int `json:"exportLinkDays,omitempty"`
	// Breach holds the tenant's breach-notification settings (security
	// contacts, webhook, platform scope, subject-notice policy); nil: none.
	Breach *BreachSettings `json:"breach,omitempty"`
	// DigestSentOn is the tenant-local day ("2006-01-02") whose deadline
	// digest went to Contact (shared/dsr/digest.go).
	DigestSentOn string `json:"digestSentOn,omitempty"`
	// AdminOps records the admin changes of the tenant document (legal
	// holds) made with an Idempotency-Key, in the change's own write.
	AdminOps []IdempotentOp `json:"adminOps,omitempty"`

	// Status is the tenant's lifecycle state; "" (tenants stored before it
	// existed) is active. Suspension says who suspended it, when and why.
	Status     TenantStatus `json:"status,omitempty"`
	Suspension *Suspension  `json:"suspension,omitempty"`
	// Offboarding is the end of the tenant's contract, while it runs (see
	// Offboarding); the tenant's status is then TenantOffboarding.
	Offboarding *Offboarding `json:"offboarding,omitempty"`
	// PendingAudit is the tenant document's outbox: audit events (for the
	// tenant's chain and the operator's) written with the change they record
	// and appended after it, idempotently by ID, then cleared. A crash between
	// the two leaves them here for the next write or the hourly watch.
	PendingAudit []AuditEvent `json:"pendingAudit,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// ETag is set by the store on read and checked on update.
	ETag string `json:"-"`
}

// TenantStatus is a tenant's lifecycle state.
type TenantStatus string

// Tenant states. A suspended tenant takes no new requests (portal, admin on
// behalf, inbound queue); requests already received run to their end and its
// admins keep reading. An offboarding tenant (GDPR Art. 28(3)(g): delete or
// return all personal data at the end of the contract) is refused new
// requests the same way, until its purge deletes it (see Offboarding).
const (
	TenantActive      TenantStatus = "active"
	TenantSuspended   TenantStatus = "suspended"
	TenantOffboarding TenantStatus = "offboarding"
)

// Suspension records who suspended a tenant, when and why.
type Suspension struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// Suspended reports whether the tenant takes no new requests.
func (t *Tenant) Suspended() bool { return t.Status == TenantSuspended }

// Default values of the tenant settings that have one. null in a settings
// body (or a field left out of a PUT) means the default; the stored tenant
// always holds the value in force, so a read never shows null for these.
const (
	DefaultTimeZone         = "UTC"
	DefaultPIPLDays         = 30 // GB/T 35273-2020 §8.7
	DefaultResponseDays     = 30
	DefaultErasureGraceDays = 30 // as the Azure and Office 365 DSR guides
	DefaultExportLinkDays   = 7
)

// ApplyDefaults fills every unset setting that has a default with it.
func (t *Tenant) ApplyDefaults() {
	if t.TimeZone == "" {
		t.TimeZone = DefaultTimeZone
	}
	if t.PIPLDays == 0 {
		t.PIPLDays = DefaultPIPLDays
	}
	if t.DefaultDays == 0 {
		t.DefaultDays = DefaultResponseDays
	}
	if t.ErasureGraceDays == nil {
		d := DefaultErasureGraceDays
		t.ErasureGraceDays = &d
	}
	if t.ExportLinkDays == 0 {
		t.ExportLinkDays = DefaultExportLinkDays
	}
	if t.Status == "" {
		t.Status = TenantActive
	}
}

// Service returns the tenant's service with id, or nil.
func (t *Tenant) Service(id string) *Service {
	for i := range t.Services {
		if t.Services[i].ID == id {
			return &t.Services[i]
		}
	}
	return nil
}

// Grace returns the erasure grace period.
func (t *Tenant) Grace() time.Duration {
	if t.ErasureGraceDays == nil {
		return 30 * 24 * time.Hour
	}
	return time.Duration(*t.ErasureGraceDays) * 24 * time.Hour
}

// LinkTTL returns how long an export download link works.
func (t *Tenant) LinkTTL() time.Duration {
	if t.ExportLinkDays <= 0 {
		return 7 * 24 * time.Hour
	}
	return time.Duration(t.ExportLinkDays) * 24 * time.Hour
}

// HoldFor returns the active hold covering the subject at the service, or nil.
func (t *Tenant) HoldFor(subjectHash, service string) *Hold {
	for i := range t.Holds {
		if t.Holds[i].Covers(subjectHash, service) {
			return &t.Holds[i]
		}
	}
	return nil
}

// ValidTenantID reports whether id is a tenant id: 3 to 40 of [a-z0-9-], starting
// with a letter. Ids appear in routes and partition keys, so they are kept plain.
func ValidTenantID(id string) bool {
	if len(id) < 3 || len(id) > 40 || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks a tenant's settings. A bad value is a KindUnprocessable
// error (422) naming the field: code invalid-tenant-id for the id,
// invalid-tenant for the others.
func (t *Tenant) Validate() error {
	bad := func(field, format string, args ...any) error {
		return FieldErrorf(field, "invalid-tenant", format, args...)
	}
	if !ValidTenantID(t.ID) {
		return FieldErrorf("id", "invalid-tenant-id", "tenant id must be 3-40 characters of a-z, 0-9 and '-', starting with a letter")
	}
	if strings.TrimSpace(t.Name) == "" || utf8.RuneCountInString(t.Name) > 200 {
		return bad("name", "name is required and at most 200 characters")
	}
	if _, err := Zone(t.TimeZone); err != nil || t.TimeZone == "" || t.TimeZone == "Local" {
		return bad("timeZone", "timeZone must be an IANA time zone name")
	}
	if t.PIPLDays < 1 || t.PIPLDays > 90 {
		return bad("piplDays", "piplDays must be between 1 and 90")
	}
	if t.DefaultDays < 1 || t.DefaultDays > 90 {
		return bad("defaultDays", "defaultDays must be between 1 and 90")
	}
	for _, r := range t.Regimes {
		if !slices.Contains(Regimes, r) {
			return bad("regimes", "unknown regime %q", r)
		}
	}
	for _, r := range t.Establishment {
		if !slices.Contains(Regimes, r) {
			return bad("establishment", "unknown regime %q", r)
		}
	}
	if t.ErasureGraceDays != nil && (*t.ErasureGraceDays < 0 || *t.ErasureGraceDays > 90) {
		return bad("erasureGraceDays", "erasureGraceDays must be between 0 and 90")
	}
	if t.ExportLinkDays < 0 || t.ExportLinkDays > 30 {
		return bad("exportLinkDays", "exportLinkDays must be between 1 and 30")
	}
	if len(t.Contact) > 254 {
		return bad("contact", "contact must be at most 254 characters")
	}
	if len(t.PortalOrigins) > 20 {
		return bad("portalOrigins", "at most 20 portal origins")
	}
	for _, o := range t.PortalOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" ||
			u.Fragment != "" || u.User != nil || u.Opaque != "" {
			return bad("portalOrigins", "portal origin %q must be scheme://host[:port]", o)
		}
	}
	if t.Breach != nil {
		if err := t.Breach.Validate(); err != nil {
			return err
		}
	}
	if err := t.Brand.validate(); err != nil {
		return err
	}
	switch t.Status {
	case "", TenantActive, TenantSuspended:
	case TenantOffboarding:
		if t.Offboarding == nil {
			return bad("status", "an offboarding tenant needs its offboarding record")
		}
	default:
		return bad("status", "status must be active, suspended or offboarding")
	}
	return nil
}

// AllowsOrigin reports whether origin is one of the tenant's portal origins.
func (t *Tenant) AllowsOrigin(origin string) bool {
	return origin != "" && slices.Contains(t.PortalOrigins, origin)
}

// Location returns the tenant's time zone (UTC if it cannot be loaded).
func (t *Tenant) Location() *time.Location {
	if loc, err := Zone(t.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// Regime codes. The deadline rules are keyed by them.
const (
	RegimeEUGDPR = "eu-gdpr"
	RegimeUKGDPR = "uk-gdpr"
	RegimeCCPA   = "us-ca-ccpa"
	RegimeVCDPA  = "us-va-vcdpa"
	RegimeCPA    = "us-co-cpa"
	RegimeLGPD   = "br-lgpd"
	RegimePIPL   = "cn-pipl"
)

// Regimes lists every regime code privops knows.
var Regimes = []string{RegimeEUGDPR, RegimeUKGDPR, RegimeCCPA, RegimeVCDPA, RegimeCPA, RegimeLGPD, RegimePIPL}
