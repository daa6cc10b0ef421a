package privacy_test

import (
	"math"
	"testing"

	"github.com/privops/privops/shared/privacy"
)

// TestBrandIsValidated: a tenant's colours must be #rrggbb and carry white
// text legibly (WCAG 1.4.3, 4.5:1); the logo must be an https URL.
func TestBrandIsValidated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		brand     privacy.Brand
		wantField string // "" for valid
	}{
		{"the default look", privacy.Brand{}, ""},
		{"dark colours and an https logo", privacy.Brand{PrimaryColor: "#0B5394", HeaderColor: "#222222", LogoURL: "https://cdn.acme.example/logo.svg"}, ""},
		{"not a colour", privacy.Brand{PrimaryColor: "blue"}, "brand.primaryColor"},
		{"short form", privacy.Brand{PrimaryColor: "#fff"}, "brand.primaryColor"},
		{"a digit that is not hex", privacy.Brand{PrimaryColor: "#0B539G"}, "brand.primaryColor"},
		{"no hash", privacy.Brand{HeaderColor: "0222222"}, "brand.headerColor"},
		{"a wide character", privacy.Brand{PrimaryColor: "#0B5３9"}, "brand.primaryColor"},
		{"yellow carries white text illegibly", privacy.Brand{PrimaryColor: "#ffcc00"}, "brand.primaryColor"},
		{"mid grey just below 4.5:1", privacy.Brand{HeaderColor: "#808080"}, "brand.headerColor"},
		{"logo over http", privacy.Brand{LogoURL: "http://acme.example/logo.png"}, "brand.logoUrl"},
		{"logo with credentials", privacy.Brand{LogoURL: "https://u:p@acme.example/logo.png"}, "brand.logoUrl"},
		{"logo as a data URL", privacy.Brand{LogoURL: "data:image/png;base64,AAAA"}, "brand.logoUrl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := &privacy.Tenant{ID: "acme", Name: "Acme", TimeZone: "UTC", PIPLDays: 30, DefaultDays: 30, Brand: tc.brand}
			err := tn.Validate()
			got := ""
			if e, ok := privacy.AsError(err); ok {
				got = e.Field
			} else if err != nil {
				t.Fatalf("not a privacy error: %v", err)
			}
			if got != tc.wantField {
				t.Errorf("field at fault %q, want %q (%v)", got, tc.wantField, err)
			}
		})
	}
}

func TestContrastWithWhite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		color string
		want  float64
	}{
		{"#000000", 21}, {"#ffffff", 1}, {"#767676", 4.54}, {"#1f5fae", 6.35}, {"nonsense", 1},
	}
	for _, tc := range cases {
		if got := privacy.ContrastWithWhite(tc.color); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("ContrastWithWhite(%s) = %.2f, want %.2f", tc.color, got, tc.want)
		}
	}
}

func TestPreferredLanguage(t *testing.T) {
	t.Parallel()
	cases := []struct{ header, want string }{
		{"", "en"},
		{"de-DE,de;q=0.9", "en"},
		{"zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"},
		{"zh-Hans-CN", "zh-Hans"},
		{"en-GB,en;q=0.9,zh;q=0.8", "en"},
		{"fr;q=1, zh;q=0.5, en;q=0.4", "zh-Hans"},
		{"zh;q=0, en", "en"},
		{"zh-TW", "en"}, // traditional script: not offered, English
	}
	for _, tc := range cases {
		if got := privacy.PreferredLanguage(tc.header); got != tc.want {
			t.Errorf("PreferredLanguage(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestCanonicalLanguage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		tag, want, notice string
		ok                bool
	}{
		{"en", "en", "en", true},
		{"EN-gb", "en", "en", true},
		{"zh-Hans", "zh-Hans", "zh-CN", true},
		{"zh-hans-cn", "zh-Hans", "zh-CN", true},
		{"zh-CN", "zh-Hans", "zh-CN", true},
		{"zh", "zh-Hans", "zh-CN", true},
		{"zh-SG", "zh-Hans", "zh-CN", true},
		{"zh-TW", "", "", false},
		{"zh-Hant", "", "", false},
		{"de", "", "", false},
		{"", "", "", false},
		{"english", "", "", false},
	}
	for _, c := range cases {
		got, ok := privacy.CanonicalLanguage(c.tag)
		notice, nok := privacy.NoticeLanguage(c.tag)
		if got != c.want || ok != c.ok || notice != c.notice || nok != c.ok {
			t.Errorf("%q: canonical %q %v, notice %q %v; want %q, %q, %v", c.tag, got, ok, notice, nok, c.want, c.notice, c.ok)
		}
	}
}
