package deadline

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEmbeddedRulesParse(t *testing.T) {
	t.Parallel()
	rs, err := Parse(defaultJSON)
	if err != nil {
		t.Fatalf("Parse(rules.json): %v", err)
	}
	var codes []string
	for _, g := range rs.regimes {
		codes = append(codes, g.Code)
	}
	want := []string{RegimeEUGDPR, RegimeUKGDPR, RegimeCCPA, RegimeVCDPA, RegimeCPA, RegimeLGPD, RegimePIPL}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("regimes (-want +got):\n%s", diff)
	}
}

// edited returns rules.json with edit applied to its decoded form.
func edited(tb testing.TB, edit func(*fileData)) []byte {
	tb.Helper()
	var f fileData
	if err := json.Unmarshal(defaultJSON, &f); err != nil {
		tb.Fatal(err)
	}
	edit(&f)
	b, err := json.Marshal(f)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ruleByID finds a rule in the decoded data for editing.
func ruleByID(tb testing.TB, f *fileData, id string) *ruleData {
	tb.Helper()
	for i := range f.Rules {
		if f.Rules[i].ID == id {
			return &f.Rules[i]
		}
	}
	tb.Fatalf("no rule %s", id)
	return nil
}

func TestParseRefusesMalformedRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data func(testing.TB) []byte
	}{
		{"not JSON", func(testing.TB) []byte { return []byte(`{"rules": [`) }},
		{"trailing data", func(testing.TB) []byte { return append(append([]byte{}, defaultJSON...), []byte(`{}`)...) }},
		{"unknown field", func(testing.TB) []byte {
			return []byte(strings.Replace(string(defaultJSON), `"pausable": true`, `"pauseable": true`, 1))
		}},
		{"empty", func(testing.TB) []byte { return []byte(`{}`) }},
		{"repeated rule id", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { f.Rules[1].ID = f.Rules[0].ID })
		}},
		{"unknown regime", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "cn-pipl-tenant-days").Regime = "cn-xx" })
		}},
		{"unknown request type", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { r := ruleByID(tb, f, "us-ca-ccpa-optout"); r.Types = append(r.Types, "sell") })
		}},
		{"bad date", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "eu-gdpr-art12-3").From = "25/05/2018" })
		}},
		{"until before from", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "uk-gdpr-ico").Until = "2020-01-01" })
		}},
		{"missing source", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "eu-gdpr-art12-3").Source = "" })
		}},
		{"unverified rule producing a deadline", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "us-co-cpa-1306").Status = "U" })
		}},
		{"unknown unit", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "eu-gdpr-art12-3").Period.Unit = "week" })
		}},
		{"zero period", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "us-va-vcdpa-577").Period.N = 0 })
		}},
		{"extension not longer", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "us-va-vcdpa-577").Extended.N = 45 })
		}},
		{"business days without calendar", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "us-ca-ccpa-optout").Calendar = "" })
		}},
		{"undefined calendar", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "uk-gdpr-art12a").Calendar = "fr" })
		}},
		{"calendar that is not computed", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { f.Calendars["fr"] = calendarData{Source: "x"} })
		}},
		{"bad holiday date", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) {
				c := f.Calendars["gb-eaw"]
				c.Add = []string{"2023-13-01"}
				f.Calendars["gb-eaw"] = c
			})
		}},
		{"noDeadline rule with a period", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "br-lgpd-art18-none").Period = &period{N: 15, Unit: "day"} })
		}},
		{"bad start", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "eu-gdpr-art12-3").Start = "verification" })
		}},
		{"overlapping rules", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "uk-gdpr-ico").Until = "2026-03-01" })
		}},
		{"request type not stated", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "br-lgpd-art18-none").Types = []string{"erase"} })
		}},
		{"bad territory", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { f.Regimes[0].Territories = append(f.Regimes[0].Territories, "france") })
		}},
		{"reserved regime code", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { f.Regimes[0].Code = RegimeTenantPolicy })
		}},
		{"pipl period with n", func(tb testing.TB) []byte {
			return edited(tb, func(f *fileData) { ruleByID(tb, f, "cn-pipl-tenant-days").Period.N = 30 })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Parse(tt.data(t)); !errors.Is(err, ErrInvalidRules) {
				t.Errorf("Parse error = %v, want ErrInvalidRules", err)
			}
		})
	}
}

// The pre-2019 ICO "day after receipt" convention stays available as data
// (privacy-rules.md §E.1) though no shipped rule uses it.
func TestNextDayConvention(t *testing.T) {
	t.Parallel()
	rs, err := Parse(edited(t, func(f *fileData) { ruleByID(t, f, "eu-gdpr-art12-3").CountFrom = countNextDay }))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got, err := rs.Compute(Input{Regimes: []string{RegimeEUGDPR}, Type: "access", Location: time.UTC, ReceivedAt: day(time.UTC, 2030, 8, 1)})
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	if diff := cmp.Diff("2030-09-02", got.DueDate); diff != "" {
		t.Errorf("due (-want +got):\n%s", diff)
	}
}

func TestRuleVersionByReceipt(t *testing.T) {
	t.Parallel()
	london := time.FixedZone("GMT", 0)
	tests := []struct {
		received time.Time
		want     string
	}{
		{day(london, 2026, 2, 4), "uk-gdpr-ico"},
		{day(london, 2026, 2, 5), "uk-gdpr-art12a"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			got, err := Compute(Input{Regimes: []string{RegimeUKGDPR}, Type: "access", Location: london, ReceivedAt: tt.received})
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if diff := cmp.Diff(tt.want, got.RuleID); diff != "" {
				t.Errorf("rule (-want +got):\n%s", diff)
			}
		})
	}
}
