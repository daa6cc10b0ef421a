package privacy

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// ConnectorKind is how privops reaches a service.
type ConnectorKind string

// Connector kinds.
const (
	KindWebhook    ConnectorKind = "webhook"    // signed HTTPS calls; 202 answers come back by signed callback
	KindServiceBus ConnectorKind = "servicebus" // a task message to the service's queue; the result comes back as a message
	KindCosmos     ConnectorKind = "cosmos"     // built in: a tenant data container searched by identity paths
	KindManual     ConnectorKind = "manual"     // an admin checklist task, completed by hand with a note
)

// ConnectorKinds lists every connector kind.
var ConnectorKinds = []ConnectorKind{KindWebhook, KindServiceBus, KindCosmos, KindManual}

// Identifier kinds a service can key its data by.
var IdentifierKinds = []string{"email", "user-id", "phone"}

// ServiceSecret is one signing key of a service. Two can be active while the
// service rolls over: privops signs with the newest and accepts both.
type ServiceSecret struct {
	ID        string    `json:"id"`
	Value     string    `json:"value"` // base64; never returned by the API after it is created
	CreatedAt time.Time `json:"createdAt"`
}

// Service is one of a tenant's systems that holds personal data.
type Service struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Kind        ConnectorKind `json:"kind"`
	Actions     []Action      `json:"actions"`     // what it supports; lookup enables verify-after-delete
	Categories  []Category    `json:"categories"`  // what it holds
	Identifiers []string      `json:"identifiers"` // what it keys the data by
	// Webhook.
	URL     string          `json:"url,omitempty"`
	Secrets []ServiceSecret `json:"secrets,omitempty"`
	// SigningVersion is how calls and callbacks are signed: 1 (legacy, the
	// secret itself both ways; a stored service without it) or 2 (a key per
	// direction derived from the secret; every new webhook service). See
	// shared/webhook/keys.go.
	SigningVersion int `json:"signingVersion,omitempty"`
	// Service Bus: the service's inbound queue.
	Queue string `json:"queue,omitempty"`
	// Cosmos: the tenant data container and, per identifier kind, the JSON path
	// of the item property holding it ("email" → "/contact/email").
	Container     string            `json:"container,omitempty"`
	IdentityPaths map[string]string `json:"identityPaths,omitempty"`
	// Manual: what the admin must do in the service's own tools.
	Instructions string `json:"instructions,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Supports reports whether the service supports action a.
func (s *Service) Supports(a Action) bool { return slices.Contains(s.Actions, a) }

// Holds reports whether the service holds data of any of the categories (all
// of its categories when cats is empty).
func (s *Service) Holds(cats []Category) bool {
	if len(cats) == 0 {
		return true
	}
	return slices.ContainsFunc(cats, func(c Category) bool { return slices.Contains(s.Categories, c) })
}

// ValidServiceID reports whether id is a service id (same shape as a tenant id).
func ValidServiceID(id string) bool { return ValidTenantID(id) }

// Validate checks a service definition.
func (s *Service) Validate() error {
	bad := func(format string, args ...any) error {
		return Errorf(KindInvalid, "invalid-service", format, args...)
	}
	if !ValidServiceID(s.ID) {
		return bad("service id must be 3-40 characters of a-z, 0-9 and '-', starting with a letter")
	}
	if strings.TrimSpace(s.Name) == "" || len(s.Name) > 200 {
		return bad("name is required and at most 200 characters")
	}
	if !slices.Contains(ConnectorKinds, s.Kind) {
		return bad("kind must be one of webhook, servicebus, cosmos, manual")
	}
	if len(s.Actions) == 0 {
		return bad("at least one action is required")
	}
	for _, a := range s.Actions {
		if !slices.Contains(ServiceActions, a) {
			return bad("unknown action %q", a)
		}
	}
	if len(s.Categories) == 0 {
		return bad("at least one data category is required")
	}
	for _, c := range s.Categories {
		if !slices.Contains(Categories, c) {
			return bad("unknown data category %q", c)
		}
	}
	if len(s.Identifiers) == 0 {
		return bad("at least one identifier kind is required")
	}
	for _, k := range s.Identifiers {
		if !slices.Contains(IdentifierKinds, k) {
			return bad("unknown identifier kind %q", k)
		}
	}
	if s.SigningVersion < 0 || s.SigningVersion > 2 || (s.SigningVersion != 0 && s.Kind != KindWebhook) {
		return bad("signingVersion is 1 or 2, and only for a webhook service")
	}
	switch s.Kind {
	case KindWebhook:
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
			return bad("a webhook service needs an http(s) url without credentials")
		}
		if !ValidHost(u.Host) {
			return bad("the url's host must be a DNS name (xn-- form for international names) or an IP address in its standard form")
		}
	case KindServiceBus:
		if s.Queue == "" || len(s.Queue) > 260 {
			return bad("a servicebus service needs its queue name")
		}
	case KindCosmos:
		if !ValidServiceID(s.Container) {
			return bad("a cosmos service needs a container name (3-40 of a-z, 0-9, '-')")
		}
		if slices.Contains([]string{"tenants", "requests", "audit"}, s.Container) {
			return bad("container %q is privops's own; name the tenant's data container", s.Container)
		}
		for _, k := range s.Identifiers {
			p := s.IdentityPaths[k]
			if !validPath(p) {
				return bad("identity path for %q must look like /a/b", k)
			}
		}
	case KindManual:
		if len(s.Instructions) > 4000 {
			return bad("instructions are at most 4000 bytes")
		}
	}
	return nil
}

// validPath accepts /name(/name)* with names of letters, digits, '_' and '-'.
func validPath(p string) bool {
	if len(p) < 2 || len(p) > 200 || p[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" {
			return false
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// HoldScope is what a legal hold covers.
type HoldScope string

// Hold scopes.
const (
	HoldTenant  HoldScope = "tenant"  // all of the tenant's data
	HoldSubject HoldScope = "subject" // one subject (by keyed hash) at every service
	HoldService HoldScope = "service" // everything one service holds
	// HoldDataCategory keeps one retention category (retention.Category*,
	// e.g. "payment") from every retention sweep. DSR erasures are planned by
	// request categories, which are another vocabulary, so it does not defer
	// them; place a tenant, subject or service hold for that.
	HoldDataCategory HoldScope = "data-category"
)

// Hold is a legal hold: erasure of what it covers is deferred (GDPR Art. 17(3)(b),(e)).
type Hold struct {
	ID          string    `json:"id"`
	Scope       HoldScope `json:"scope"`
	SubjectHash string    `json:"subjectHash,omitempty"` // subject scope
	Service     string    `json:"service,omitempty"`     // service scope
	// DataCategory is the retention category a data-category hold keeps.
	DataCategory string    `json:"dataCategory,omitempty"`
	Reason       string    `json:"reason"`
	PlacedBy     string    `json:"placedBy"`
	PlacedAt     time.Time `json:"placedAt"`
	ReleasedAt   time.Time `json:"releasedAt,omitzero"`

	// Category is the ground the hold rests on, chosen from a fixed list
	// (GDPR Art. 17(3)): the subject is told it, never Reason, which stays
	// internal. Empty on holds placed before categories existed.
	Category HoldCategory `json:"category,omitempty"`
	// RedrivenAt is when the erasures the hold deferred were started again
	// after its release (zero until then: the deadline watch finishes it).
	RedrivenAt time.Time `json:"redrivenAt,omitzero"`

	// SealedEmail is a subject hold's normalised email, sealed (AES-GCM)
	// with a key derived from SECRET_KEY: a service's retention purge needs
	// it to put the subject on its exclusion list as a salted hash. Never
	// answered by the API (Public), dropped when the hold is released.
	// Empty on holds placed before it existed.
	SealedEmail string `json:"sealedEmail,omitempty"`
}

// Public is the hold as the API shows it: without its sealed email.
func (h Hold) Public() Hold {
	h.SealedEmail = ""
	return h
}

// PublicHolds is hs as the API shows them.
func PublicHolds(hs []Hold) []Hold {
	out := make([]Hold, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.Public())
	}
	return out
}

// HoldCategory is the ground on which a legal hold keeps data whose erasure
// was asked for: the exceptions of GDPR Art. 17(3) (UK GDPR the same; CCPA
// §1798.105(d) lists comparable ones).
type HoldCategory string

// Hold categories.
const (
	HoldFreedomOfExpression HoldCategory = "freedom-of-expression" // Art. 17(3)(a)
	HoldLegalObligation     HoldCategory = "legal-obligation"      // Art. 17(3)(b), first limb
	HoldPublicInterest      HoldCategory = "public-interest"       // Art. 17(3)(b), public task or official authority
	HoldPublicHealth        HoldCategory = "public-health"         // Art. 17(3)(c)
	HoldArchiving           HoldCategory = "archiving-research"    // Art. 17(3)(d)
	HoldLegalClaims         HoldCategory = "legal-claims"          // Art. 17(3)(e)
)

// HoldCategories lists every hold category.
var HoldCategories = []HoldCategory{HoldFreedomOfExpression, HoldLegalObligation, HoldPublicInterest, HoldPublicHealth, HoldArchiving, HoldLegalClaims}

// Valid reports whether c is a known category.
func (c HoldCategory) Valid() bool { return slices.Contains(HoldCategories, c) }

// SubjectText is what the subject is told about why data is kept: a neutral
// statement of the ground and its source. A hold without a category (placed
// before categories existed) gets the general statement.
func (c HoldCategory) SubjectText() string {
	switch c {
	case HoldFreedomOfExpression:
		return "it is needed to exercise the right of freedom of expression and information (GDPR Art. 17(3)(a))"
	case HoldLegalObligation:
		return "the law requires us to keep it (GDPR Art. 17(3)(b))"
	case HoldPublicInterest:
		return "it is needed for a task carried out in the public interest or in the exercise of official authority (GDPR Art. 17(3)(b))"
	case HoldPublicHealth:
		return "it is needed for reasons of public interest in the area of public health (GDPR Art. 17(3)(c))"
	case HoldArchiving:
		return "it is needed for archiving in the public interest, scientific or historical research or statistics (GDPR Art. 17(3)(d))"
	case HoldLegalClaims:
		return "it is needed to establish, exercise or defend legal claims (GDPR Art. 17(3)(e))"
	}
	return "the law allows or requires us to keep it for now (GDPR Art. 17(3))"
}

// Covers reports whether an active hold covers the subject at the service
// (a DSR erasure). A data-category hold covers no erasure: see HoldDataCategory.
func (h *Hold) Covers(subjectHash, service string) bool {
	if !h.ReleasedAt.IsZero() {
		return false
	}
	switch h.Scope {
	case HoldTenant:
		return true
	case HoldSubject:
		return h.SubjectHash == subjectHash
	case HoldService:
		return h.Service == service
	}
	return false
}

// CoversRetention reports whether an active hold keeps data of the retention
// category at the service (service "" for privops's own records) about the
// subject (subjectHash "" when the data names no subject it can be hashed by)
// from a retention sweep.
func (h *Hold) CoversRetention(subjectHash, service, category string) bool {
	if !h.ReleasedAt.IsZero() {
		return false
	}
	switch h.Scope {
	case HoldTenant:
		return true
	case HoldSubject:
		return subjectHash != "" && h.SubjectHash == subjectHash
	case HoldService:
		return service != "" && h.Service == service
	case HoldDataCategory:
		return h.DataCategory == category
	}
	return false
}
