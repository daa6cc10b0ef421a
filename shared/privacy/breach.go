package privacy

import (
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// BreachSettings are a tenant's breach-notification settings: who is told
// when an incident touches its data, in which language, over which channels,
// which of the operator's services and regions it uses (an incident scoped
// to services or regions is resolved to tenants through them) and its policy
// for data-subject notification. shared/breach reads them.
type BreachSettings struct {
	// Contacts are the tenant's security contacts (role mailboxes, not data
	// subjects): the primaries are told first, the secondaries when an
	// escalation reaches them or a primary address bounces.
	Contacts []SecurityContact `json:"contacts,omitempty"`
	// WebhookURL, when set, is posted each notice as JSON signed with
	// WebhookSecret (t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>).
	WebhookURL    string `json:"webhookUrl,omitempty"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
	// Services and Regions are the operator's platform services and regions
	// the tenant's data lives in.
	Services []string `json:"services,omitempty"`
	Regions  []string `json:"regions,omitempty"`
	// SLAHours is the processor's contractual window towards this controller
	// (GDPR Art. 33(2) sets none: "without undue delay"); 0 means the default.
	SLAHours int `json:"slaHours,omitempty"`
	// AutoApproveHighRisk approves data-subject notification of a high-risk
	// incident without an admin's decision (GDPR Art. 34(1)).
	AutoApproveHighRisk bool `json:"autoApproveHighRisk,omitempty"`
}

// SecurityContact is one breach contact of a tenant.
type SecurityContact struct {
	Email    string `json:"email"`
	Role     string `json:"role"`     // ContactPrimary or ContactSecondary
	Language string `json:"language"` // "en" or "zh-CN"
}

// Security-contact roles and notice languages.
const (
	ContactPrimary   = "primary"
	ContactSecondary = "secondary"
	DefaultSLAHours  = 24
)

// NoticeLanguage maps a contact's language tag to one of NoticeLanguages:
// the aliases CanonicalLanguage knows (zh-Hans, zh, en-GB …) are accepted,
// so a tenant's contacts and its data subjects take the same tags.
func NoticeLanguage(tag string) (string, bool) {
	switch l, ok := CanonicalLanguage(tag); {
	case !ok:
		return "", false
	case l == LangSimplifiedChinese:
		return "zh-CN", true
	default:
		return l, true
	}
}

// NoticeLanguages are the languages breach notices are written in.
var NoticeLanguages = []string{"en", "zh-CN"}

// Validate checks the settings; a bad value is a KindUnprocessable error
// naming the field (code invalid-tenant, as every tenant setting).
func (b *BreachSettings) Validate() error {
	bad := func(field, format string, args ...any) error {
		return FieldErrorf("breach."+field, "invalid-tenant", format, args...)
	}
	if len(b.Contacts) > 10 {
		return bad("contacts", "at most 10 security contacts")
	}
	for _, c := range b.Contacts {
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Address != c.Email || len(c.Email) > 254 {
			return bad("contacts", "a contact's email must be a plain address")
		}
		if c.Role != ContactPrimary && c.Role != ContactSecondary {
			return bad("contacts", "a contact's role must be primary or secondary")
		}
		if !slices.Contains(NoticeLanguages, c.Language) {
			return bad("contacts", "a contact's language must be one of %s", strings.Join(NoticeLanguages, ", "))
		}
	}
	if b.WebhookURL != "" {
		u, err := url.Parse(b.WebhookURL)
		if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil || len(b.WebhookURL) > 2000 {
			return bad("webhookUrl", "webhookUrl must be an http(s) URL")
		}
		if len(b.WebhookSecret) < 16 || len(b.WebhookSecret) > 256 {
			return bad("webhookSecret", "webhookSecret must be 16-256 characters when webhookUrl is set")
		}
	}
	for _, list := range [][]string{b.Services, b.Regions} {
		if len(list) > 100 {
			return bad("services", "at most 100 services and 100 regions")
		}
		for _, s := range list {
			if !validScopeName(s) {
				return bad("services", "services and regions are 2-40 of a-z, 0-9 and '-'")
			}
		}
	}
	if b.SLAHours < 0 || b.SLAHours > 720 {
		return bad("slaHours", "slaHours must be between 1 and 720")
	}
	return nil
}

// SLA returns the processor's window towards the controller in hours.
func (b *BreachSettings) SLA() int {
	if b == nil || b.SLAHours == 0 {
		return DefaultSLAHours
	}
	return b.SLAHours
}

// ContactsFor returns the tenant's contacts of role.
func (b *BreachSettings) ContactsFor(role string) []SecurityContact {
	if b == nil {
		return nil
	}
	var out []SecurityContact
	for _, c := range b.Contacts {
		if c.Role == role {
			out = append(out, c)
		}
	}
	return out
}

// validScopeName reports whether s is 2-40 of a-z, 0-9 and '-', starting
// with a letter or digit: a platform service or region name.
func validScopeName(s string) bool {
	if len(s) < 2 || len(s) > 40 || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
