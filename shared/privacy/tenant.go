package privacy

import (
	"net/url"
	"slices"
	"strings"
	"time"
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

	// Services are the tenant's systems holding personal data; every approved
	// request fans out to those that hold its categories.
	Services []Service `json:"services,omitempty"`
	// Holds are legal holds; they defer erasure of what they cover.
	Holds []Hold `json:"holds,omitempty"`
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
	// AdminOps records the admin changes of the tenant document (legal
	// holds) made with an Idempotency-Key, in the change's own write.
	AdminOps []IdempotentOp `json:"adminOps,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// ETag is set by the store on read and checked on update.
	ETag string `json:"-"`
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

// Validate checks a tenant's settings.
func (t *Tenant) Validate() error {
	if !ValidTenantID(t.ID) {
		return Errorf(KindInvalid, "invalid-tenant-id", "tenant id must be 3-40 characters of a-z, 0-9 and '-', starting with a letter")
	}
	if strings.TrimSpace(t.Name) == "" || len(t.Name) > 200 {
		return Errorf(KindInvalid, "invalid-tenant", "name is required and at most 200 characters")
	}
	if _, err := time.LoadLocation(t.TimeZone); err != nil || t.TimeZone == "" || t.TimeZone == "Local" {
		return Errorf(KindInvalid, "invalid-tenant", "timeZone must be an IANA time zone name")
	}
	if t.PIPLDays < 1 || t.PIPLDays > 90 {
		return Errorf(KindInvalid, "invalid-tenant", "piplDays must be between 1 and 90")
	}
	if t.DefaultDays < 1 || t.DefaultDays > 90 {
		return Errorf(KindInvalid, "invalid-tenant", "defaultDays must be between 1 and 90")
	}
	for _, r := range slices.Concat(t.Regimes, t.Establishment) {
		if !slices.Contains(Regimes, r) {
			return Errorf(KindInvalid, "invalid-tenant", "unknown regime %q", r)
		}
	}
	if t.ErasureGraceDays != nil && (*t.ErasureGraceDays < 0 || *t.ErasureGraceDays > 90) {
		return Errorf(KindInvalid, "invalid-tenant", "erasureGraceDays must be between 0 and 90")
	}
	if t.ExportLinkDays < 0 || t.ExportLinkDays > 30 {
		return Errorf(KindInvalid, "invalid-tenant", "exportLinkDays must be between 1 and 30")
	}
	for _, o := range t.PortalOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" ||
			u.Fragment != "" || u.User != nil || u.Opaque != "" {
			return Errorf(KindInvalid, "invalid-tenant", "portal origin %q must be scheme://host[:port]", o)
		}
	}
	return nil
}

// AllowsOrigin reports whether origin is one of the tenant's portal origins.
func (t *Tenant) AllowsOrigin(origin string) bool {
	return origin != "" && slices.Contains(t.PortalOrigins, origin)
}

// Location returns the tenant's time zone (UTC if it cannot be loaded).
func (t *Tenant) Location() *time.Location {
	if loc, err := time.LoadLocation(t.TimeZone); err == nil {
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
