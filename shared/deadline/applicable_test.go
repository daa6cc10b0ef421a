package deadline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestApplicable(t *testing.T) {
	t.Parallel()
	all := []string{RegimeEUGDPR, RegimeUKGDPR, RegimeCCPA, RegimeVCDPA, RegimeCPA, RegimeLGPD, RegimePIPL}
	tests := []struct {
		name          string
		country       string
		region        string
		tenant, estab []string
		want          []string
	}{
		{"france", "FR", "", all, nil, []string{RegimeEUGDPR}},
		{"norway is EEA", "no", "", all, nil, []string{RegimeEUGDPR}},
		{"greece as EL", "el", "", all, nil, []string{RegimeEUGDPR}},
		{"switzerland is not EEA", "CH", "", all, nil, nil},
		{"great britain", "GB", "", all, nil, []string{RegimeUKGDPR}},
		{"UK accepted", "uk", "", all, nil, []string{RegimeUKGDPR}},
		{"california", "US", "CA", all, nil, []string{RegimeCCPA}},
		{"california as ISO 3166-2", "us", "us-ca", all, nil, []string{RegimeCCPA}},
		{"virginia", "US", "va", all, nil, []string{RegimeVCDPA}},
		{"colorado", "US", "CO", all, nil, []string{RegimeCPA}},
		{"texas: none", "US", "TX", all, nil, nil},
		{"CA without US is not California", "CA", "", all, nil, nil},
		{"brazil", "BR", "", all, nil, []string{RegimeLGPD}},
		{"china", "CN", "", all, nil, []string{RegimePIPL}},
		{"tenant does not answer under CCPA", "US", "CA", []string{RegimeEUGDPR}, nil, nil},
		{"EU establishment applies to a Californian", "US", "CA", all, []string{RegimeEUGDPR},
			[]string{RegimeEUGDPR, RegimeCCPA}},
		{"establishment applies even if not in tenant regimes", "JP", "", nil, []string{RegimeUKGDPR}, []string{RegimeUKGDPR}},
		{"no repeats", "DE", "", all, []string{RegimeEUGDPR, RegimeEUGDPR}, []string{RegimeEUGDPR}},
		{"unknown establishment passes through", "JP", "", nil, []string{"jp-appi"}, []string{"jp-appi"}},
		{"no residence", "", "", all, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Applicable(tt.country, tt.region, tt.tenant, tt.estab)); diff != "" {
				t.Errorf("Applicable (-want +got):\n%s", diff)
			}
		})
	}
}
