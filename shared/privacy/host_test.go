package privacy_test

import (
	"testing"

	"github.com/privops/privops/shared/privacy"
)

func TestValidHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		host string
		want bool
	}{
		{"hr.example.com", true},
		{"hr.example.com.", true},
		{"hr.example.com:8443", true},
		{"hr-api", true}, // a name inside a private network
		{"xn--bcher-kva.example", true},
		{"a1.example.io", true},
		{"93.184.215.14", true},
		{"93.184.215.14:443", true},
		{"[2606:4700:4700::1111]", true},
		{"[2606:4700:4700::1111]:8443", true},
		{"localhost", true}, // a name: the SSRF guard judges what it resolves to

		{"2130706433", false},   // decimal IPv4
		{"0x7f000001", false},   // hexadecimal IPv4
		{"0x7f.0.0.1", false},   // mixed
		{"127.1", false},        // shortened IPv4
		{"017700000001", false}, // octal IPv4
		{"0177.0.0.1", false},   // octal dotted: a name with a numeric TLD
		{"1.2.3.4.5", false},
		{"example.123", false},
		{"[::ffff:127.0.0.1]", true}, // an IPv4-mapped literal: the SSRF guard judges it as 127.0.0.1
		{"[fe80::1%25eth0]", false},  // a zone
		{"2606:4700::1111", false},   // IPv6 without brackets
		{"[2606:4700::1111", false},
		{"exa mple.com", false},
		{"exa_mple.com", false},
		{"bücher.example", false}, // not in its xn-- form
		{"-hr.example.com", false},
		{"hr-.example.com", false},
		{"hr..example.com", false},
		{".example.com", false},
		{"", false},
		{"example.com:0", false},
		{"example.com:65536", false},
		{"example.com:http", false},
		{"example.com:", false},
		{"example.com:0443", false},
	}
	for _, tc := range cases {
		if got := privacy.ValidHost(tc.host); got != tc.want {
			t.Errorf("ValidHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

// TestServiceURLHost: a webhook service whose host no resolver answers for is
// refused when it is configured, not retried until its tasks' deadlines.
func TestServiceURLHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url  string
		want bool
	}{
		{"https://hr.example.com/privops", true},
		{"https://93.184.215.14/privops", true},
		{"https://2130706433/privops", false},
		{"https://127.1/privops", false},
		{"https://hr_api.example.com/privops", false},
	}
	for _, tc := range cases {
		s := privacy.Service{ID: "hr-system", Name: "HR", Kind: privacy.KindWebhook, URL: tc.url, Actions: []privacy.Action{privacy.ActionErase},
			Categories: []privacy.Category{privacy.Categories[0]}, Identifiers: []string{privacy.IdentifierKinds[0]}}
		if err := s.Validate(); (err == nil) != tc.want {
			t.Errorf("Validate(url %s) = %v, want valid %v", tc.url, err, tc.want)
		}
	}
}
