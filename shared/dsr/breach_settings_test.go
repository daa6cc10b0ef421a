package dsr_test

import (
	"testing"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// TestBreachWebhookSecretIsWriteOnly: a read shows the breach settings
// without the webhook secret, and a change that leaves it empty keeps the
// stored one while the webhook URL stays the same (a merge patch of another
// setting must not wipe it); a new URL without a secret is refused.
func TestBreachWebhookSecretIsWriteOnly(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	f.create(t, "acme")
	set := func(change func(*dsr.TenantSettings)) error {
		_, err := f.svc.ConfigureWith(ctx, "acme", "", func(cur dsr.TenantSettings) (dsr.TenantSettings, error) {
			change(&cur)
			return cur, nil
		}, dsr.Actor{Admin: "alice"})
		return err
	}
	if err := set(func(s *dsr.TenantSettings) {
		s.Breach = &privacy.BreachSettings{WebhookURL: "https://hooks.acme.example/b", WebhookSecret: "0123456789abcdef",
			Contacts: []privacy.SecurityContact{{Email: "soc@acme.example", Role: privacy.ContactPrimary, Language: "en"}}}
	}); err != nil {
		t.Fatal(err)
	}
	if err := set(func(s *dsr.TenantSettings) {
		if s.Breach.WebhookSecret != "" {
			t.Errorf("the settings show the webhook secret")
		}
		s.DefaultDays = 45
	}); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.store.GetTenant(ctx, "acme")
	if err := set(func(s *dsr.TenantSettings) {
		s.Breach.Contacts = append(s.Breach.Contacts, privacy.SecurityContact{Email: "ciso@acme.example", Role: privacy.ContactSecondary, Language: "zh-Hans"})
	}); err != nil {
		t.Fatalf("a contact in zh-Hans, the subjects' tag: %v", err)
	}
	if got, _ := f.store.GetTenant(ctx, "acme"); got.Breach.Contacts[1].Language != "zh-CN" {
		t.Errorf("contact language stored as %q, want zh-CN", got.Breach.Contacts[1].Language)
	}
	if stored.Breach == nil || stored.Breach.WebhookSecret != "0123456789abcdef" || stored.DefaultDays != 45 {
		t.Fatalf("after an unrelated change: %+v", stored.Breach)
	}
	err := set(func(s *dsr.TenantSettings) { s.Breach.WebhookURL = "https://elsewhere.example/b" })
	if e, ok := privacy.AsError(err); !ok || e.Field != "breach.webhookSecret" {
		t.Errorf("a new webhook URL without its secret: %v, want invalid breach.webhookSecret", err)
	}
}
