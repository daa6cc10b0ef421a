package privacy

import (
	"slices"
	"strconv"
	"strings"
)

// Languages a data subject is answered in: the privacy center's pages, the
// code mail and every notice. English is the default.
const (
	LangEnglish           = "en"
	LangSimplifiedChinese = "zh-Hans"
)

// Languages lists every subject-facing language.
var Languages = []string{LangEnglish, LangSimplifiedChinese}

// ValidLanguage reports whether l is one of Languages.
func ValidLanguage(l string) bool { return slices.Contains(Languages, l) }

// CanonicalLanguage maps a language tag as people send it to one of
// Languages: en and en-* to English; zh, zh-CN, zh-SG and zh-Hans(-*) to
// Simplified Chinese (BCP 47 names a written language by its script, so
// zh-Hans is the stored form; the region forms are accepted as aliases).
// ok is false for any other tag.
func CanonicalLanguage(tag string) (string, bool) {
	switch t := strings.ToLower(strings.TrimSpace(tag)); {
	case t == "en" || strings.HasPrefix(t, "en-"):
		return LangEnglish, true
	case t == "zh" || t == "zh-cn" || t == "zh-sg" || t == "zh-hans" || strings.HasPrefix(t, "zh-hans-"):
		return LangSimplifiedChinese, true
	}
	return "", false
}

// LanguageOf returns the request's language, English for requests stored
// before languages existed.
func (r *Request) LanguageOf() string {
	if ValidLanguage(r.Language) {
		return r.Language
	}
	return LangEnglish
}

// PreferredLanguage picks the best of Languages for an Accept-Language header
// (RFC 9110 §12.5.4): the highest-weighted range that names Chinese in its
// simplified script or mainland region (zh, zh-CN, zh-SG, zh-Hans) gives
// Simplified Chinese, English ranges English; anything else, English.
func PreferredLanguage(header string) string {
	best, bestQ := LangEnglish, -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		var lang string
		switch t := strings.ToLower(strings.TrimSpace(tag)); {
		case t == "zh" || t == "zh-cn" || t == "zh-sg" || strings.HasPrefix(t, "zh-hans"):
			lang = LangSimplifiedChinese
		case t == "en" || strings.HasPrefix(t, "en-"):
			lang = LangEnglish
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ = lang, q
		}
	}
	return best
}
