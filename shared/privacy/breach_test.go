package privacy

import "testing"

func TestBreachSettingsValidate(t *testing.T) {
	t.Parallel()
	ok := func() BreachSettings {
		return BreachSettings{Contacts: []SecurityContact{{Email: "soc@acme.example", Role: ContactPrimary, Language: "zh-CN"}},
			WebhookURL: "https://hooks.acme.example/b", WebhookSecret: "0123456789abcdef", Services: []string{"blob"}, Regions: []string{"westeurope"}, SLAHours: 12}
	}
	tests := []struct {
		name   string
		change func(*BreachSettings)
		field  string
	}{
		{"valid", func(*BreachSettings) {}, ""},
		{"display name in email", func(b *BreachSettings) { b.Contacts[0].Email = "SOC <soc@acme.example>" }, "breach.contacts"},
		{"unknown role", func(b *BreachSettings) { b.Contacts[0].Role = "tertiary" }, "breach.contacts"},
		{"unknown language", func(b *BreachSettings) { b.Contacts[0].Language = "fr" }, "breach.contacts"},
		{"webhook without secret", func(b *BreachSettings) { b.WebhookSecret = "" }, "breach.webhookSecret"},
		{"webhook not http", func(b *BreachSettings) { b.WebhookURL = "ftp://x" }, "breach.webhookUrl"},
		{"bad service name", func(b *BreachSettings) { b.Services = []string{"Blob Storage"} }, "breach.services"},
		{"negative sla", func(b *BreachSettings) { b.SLAHours = -1 }, "breach.slaHours"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := ok()
			tc.change(&b)
			err := b.Validate()
			e, _ := AsError(err)
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("valid settings refused: %v", err)
			case tc.field != "" && (e == nil || e.Field != tc.field || e.Code != "invalid-tenant"):
				t.Errorf("got %v, want invalid-tenant on %s", err, tc.field)
			}
		})
	}
}
