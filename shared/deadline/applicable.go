package deadline

import (
	"slices"
	"strings"
)

// Applicable lists the regimes that apply to a data subject, using the
// territories of the embedded rules (Default).
func Applicable(country, region string, tenantRegimes, establishment []string) []string {
	return Default().Applicable(country, region, tenantRegimes, establishment)
}

// Applicable lists the regimes that apply to a data subject residing in
// country (ISO 3166-1 alpha-2) and region (ISO 3166-2 subdivision, "CA" or
// "US-CA"), for a tenant answering under tenantRegimes and established under
// establishment:
//
//   - a regime of tenantRegimes applies when the subject resides in one of its
//     territories (EU GDPR: the 27 member states plus IS, LI and NO, the EEA;
//     UK GDPR: GB or UK; CCPA: US-CA; VCDPA: US-VA; CPA: US-CO; LGPD: BR;
//     PIPL: CN);
//   - every regime of establishment applies whatever the residence (GDPR
//     Art. 3(1): a controller established in the Union).
//
// Country and region are case-insensitive. The result is in rules.json order,
// without repeats. Codes are not validated here: Compute refuses unknown ones.
func (rs *Rules) Applicable(country, region string, tenantRegimes, establishment []string) []string {
	country = strings.ToUpper(strings.TrimSpace(country))
	region = strings.ToUpper(strings.TrimSpace(region))
	region = strings.TrimPrefix(region, country+"-")
	var out []string
	for _, g := range rs.regimes {
		resident := country != "" && slices.ContainsFunc(g.Territories, func(t string) bool {
			return t == country || region != "" && t == country+"-"+region
		})
		if slices.Contains(establishment, g.Code) || resident && slices.Contains(tenantRegimes, g.Code) {
			out = append(out, g.Code)
		}
	}
	for _, code := range establishment { // unknown codes pass through for Compute to refuse
		if !rs.knownRegime(code) && !slices.Contains(out, code) {
			out = append(out, code)
		}
	}
	return out
}
