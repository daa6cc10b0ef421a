package privacy

import (
	"math"
	"net/url"
	"strconv"
)

// Brand is how a tenant's privacy center looks: the tenant's colours and
// logo. The zero value is the suite's own look.
type Brand struct {
	// PrimaryColor colours buttons, links and the focus ring; HeaderColor the
	// page header. Both carry white text, so each must contrast with white
	// by at least 4.5:1 (WCAG 2.2 SC 1.4.3, normal text), or the privacy
	// center would fail its own accessibility checks. "#rrggbb"; "" is the default.
	PrimaryColor string `json:"primaryColor,omitempty"`
	HeaderColor  string `json:"headerColor,omitempty"`
	// LogoURL is an https URL of the tenant's logo image; the privacy
	// center's Content-Security-Policy allows images from its origin only.
	LogoURL string `json:"logoUrl,omitempty"`
}

// hexColor reports whether s is a colour as #rrggbb.
func hexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// validate checks the brand; bad names the tenant field at fault.
func (b Brand) validate() error {
	for _, c := range []struct{ field, v string }{{"brand.primaryColor", b.PrimaryColor}, {"brand.headerColor", b.HeaderColor}} {
		if c.v == "" {
			continue
		}
		if !hexColor(c.v) {
			return FieldErrorf(c.field, "invalid-tenant", "%s must be a colour of the form #rrggbb", c.field)
		}
		if ContrastWithWhite(c.v) < 4.5 {
			return FieldErrorf(c.field, "invalid-tenant", "%s must contrast with white text by at least 4.5:1 (WCAG 1.4.3); choose a darker colour", c.field)
		}
	}
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || len(b.LogoURL) > 2048 {
			return FieldErrorf("brand.logoUrl", "invalid-tenant", "brand.logoUrl must be an https URL of at most 2048 characters")
		}
	}
	return nil
}

// LogoOrigin returns the scheme://host of the logo URL ("" without a logo).
func (b Brand) LogoOrigin() string {
	u, err := url.Parse(b.LogoURL)
	if b.LogoURL == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ContrastWithWhite returns the WCAG 2.x contrast ratio of a #rrggbb colour
// against white (1 to 21).
func ContrastWithWhite(hex string) float64 {
	if !hexColor(hex) {
		return 1
	}
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(hex[1:3]) + 0.7152*lin(hex[3:5]) + 0.0722*lin(hex[5:7])
	return 1.05 / (l + 0.05)
}
