package deadline

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"
)

// ErrInvalidRules wraps every reason Parse refuses rule data.
var ErrInvalidRules = errors.New("invalid deadline rules")

//go:embed rules.json
var defaultJSON []byte

// defaultRules is the embedded rule set, parsed once. The data is compiled in
// and a test parses it, so a failure here is a build defect, like a bad
// regexp.MustCompile literal.
var defaultRules = sync.OnceValue(func() *Rules {
	rs, err := Parse(defaultJSON)
	if err != nil {
		panic(fmt.Sprintf("deadline: embedded rules.json: %v", err))
	}
	return rs
})

// Default returns the rule set embedded from rules.json.
func Default() *Rules { return defaultRules() }

// Rules is a validated rule set: the regimes with their territories, the
// response-time rules and the holiday calendars they count in. It is immutable
// and safe for concurrent use.
type Rules struct {
	regimes   []regimeData
	rules     []rule
	calendars map[string]*calendar
}

// The shape of rules.json. Field meanings are documented in the file itself
// (the "about" entries) and checked by validate.
type (
	fileData struct {
		About     []string                `json:"about"`
		Regimes   []regimeData            `json:"regimes"`
		Calendars map[string]calendarData `json:"calendars"`
		Rules     []ruleData              `json:"rules"`
	}
	regimeData struct {
		Code        string   `json:"code"`
		Name        string   `json:"name"`
		Territories []string `json:"territories"` // "CC" or "CC-RR" (ISO 3166)
		Source      string   `json:"source"`
	}
	calendarData struct {
		Source string   `json:"source"`
		Add    []string `json:"add"`    // one-off holidays
		Remove []string `json:"remove"` // regular holidays moved by proclamation
	}
	period struct {
		N          int    `json:"n"`
		Unit       string `json:"unit"`                 // month, day, business-day
		FromTenant string `json:"fromTenant,omitempty"` // "piplDays": N comes from Input.PIPLDays
	}
	ruleData struct {
		ID               string   `json:"id"`
		Regime           string   `json:"regime"`
		Types            []string `json:"types"`
		From             string   `json:"from"`            // in force for requests received on or after
		Until            string   `json:"until,omitempty"` // and before this day ("" = open)
		NoDeadline       bool     `json:"noDeadline,omitempty"`
		Start            string   `json:"start,omitempty"`     // receipt, latest-of-receipt-and-identity
		CountFrom        string   `json:"countFrom,omitempty"` // reference-day, next-day
		Period           *period  `json:"period,omitempty"`
		Extended         *period  `json:"extended,omitempty"` // whole extended period, from the start
		Calendar         string   `json:"calendar,omitempty"`
		RollForward      bool     `json:"rollForward,omitempty"`
		Pausable         bool     `json:"pausable,omitempty"`
		SmallAgentFactor int      `json:"smallAgentFactor,omitempty"`
		Summary          string   `json:"summary"`
		Source           string   `json:"source"`
		Status           string   `json:"status"` // P, S or U as in privacy-rules.md
		Notes            string   `json:"notes,omitempty"`
	}
	rule struct {
		ruleData
		from, until date
		hasUntil    bool
		cal         *calendar
	}
)

// Vocabulary of the data.
const (
	startReceipt  = "receipt"
	startIdentity = "latest-of-receipt-and-identity"
	countRefDay   = "reference-day"
	countNextDay  = "next-day"
	unitMonth     = "month"
	unitDay       = "day"
	unitBusinessD = "business-day"
	tenantPIPL    = "piplDays"
)

var (
	requestTypes = []string{"access", "export", "erase", "rectify", "restrict", "lift-restriction", "object"}
	statuses     = []string{"P", "S", "U"}
	// Compiled on the first Parse, not at start (issue 16).
	territoryRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`) })
	regimeCodeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+$`) })
)

// Parse decodes and validates rule data in the rules.json format. It refuses
// unknown fields, unknown vocabulary, a deadline-producing rule tagged [U]
// (privacy-rules.md: "do not encode it without legal review"), overlapping
// rules for one regime and request type, and a regime that leaves a request
// type unstated. Errors wrap ErrInvalidRules.
func Parse(data []byte) (*Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileData
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: decode: %w", ErrInvalidRules, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the rules object", ErrInvalidRules)
	}
	rs, err := build(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	return rs, nil
}

func build(f fileData) (*Rules, error) {
	rs := &Rules{regimes: f.Regimes, calendars: map[string]*calendar{}}
	if len(f.Regimes) == 0 || len(f.Rules) == 0 {
		return nil, errors.New("no regimes or no rules")
	}
	codes := map[string]bool{}
	for _, g := range f.Regimes {
		if !regimeCodeRE().MatchString(g.Code) || codes[g.Code] || g.Code == RegimeTenantPolicy {
			return nil, fmt.Errorf("regime code %q is malformed, reserved or repeated", g.Code)
		}
		codes[g.Code] = true
		if g.Name == "" || g.Source == "" || len(g.Territories) == 0 {
			return nil, fmt.Errorf("regime %s: name, source and territories are required", g.Code)
		}
		for _, t := range g.Territories {
			if !territoryRE().MatchString(t) {
				return nil, fmt.Errorf("regime %s: territory %q is not CC or CC-RR", g.Code, t)
			}
		}
	}
	for name, cd := range f.Calendars {
		c, err := buildCalendar(name, cd)
		if err != nil {
			return nil, err
		}
		rs.calendars[name] = c
	}
	ids := map[string]bool{}
	for _, d := range f.Rules {
		if d.ID == "" || ids[d.ID] {
			return nil, fmt.Errorf("rule id %q is empty or repeated", d.ID)
		}
		ids[d.ID] = true
		r, err := rs.buildRule(d, codes)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", d.ID, err)
		}
		rs.rules = append(rs.rules, r)
	}
	return rs, rs.checkCoverage()
}

func buildCalendar(name string, cd calendarData) (*calendar, error) {
	regular, ok := holidayRules[name]
	if !ok {
		return nil, fmt.Errorf("calendar %q is not one of the computed calendars", name)
	}
	if cd.Source == "" {
		return nil, fmt.Errorf("calendar %s: source is required", name)
	}
	c := &calendar{regular: regular, add: map[date]bool{}, remove: map[date]bool{}}
	for _, list := range []struct {
		days []string
		into map[date]bool
	}{{cd.Add, c.add}, {cd.Remove, c.remove}} {
		for _, s := range list.days {
			d, err := parseDate(s)
			if err != nil {
				return nil, fmt.Errorf("calendar %s: %w", name, err)
			}
			list.into[d] = true
		}
	}
	return c, nil
}

func (rs *Rules) buildRule(d ruleData, regimes map[string]bool) (rule, error) {
	r := rule{ruleData: d}
	if !regimes[d.Regime] {
		return r, fmt.Errorf("unknown regime %q", d.Regime)
	}
	if len(d.Types) == 0 {
		return r, errors.New("types are required")
	}
	for i, t := range d.Types {
		if !slices.Contains(requestTypes, t) || slices.Contains(d.Types[:i], t) {
			return r, fmt.Errorf("request type %q is unknown or repeated", t)
		}
	}
	var err error
	if r.from, err = parseDate(d.From); err != nil {
		return r, fmt.Errorf("from: %w", err)
	}
	if d.Until != "" {
		if r.until, err = parseDate(d.Until); err != nil {
			return r, fmt.Errorf("until: %w", err)
		}
		if r.until.compare(r.from) <= 0 {
			return r, errors.New("until must be after from")
		}
		r.hasUntil = true
	}
	if d.Summary == "" || d.Source == "" || !slices.Contains(statuses, d.Status) {
		return r, errors.New("summary, source and a status of P, S or U are required")
	}
	if d.NoDeadline {
		if d.Period != nil || d.Extended != nil || d.Start != "" || d.CountFrom != "" || d.Calendar != "" ||
			d.RollForward || d.Pausable || d.SmallAgentFactor != 0 {
			return r, errors.New("a noDeadline rule takes no counting fields")
		}
		return r, nil
	}
	if d.Status == "U" {
		return r, errors.New("status U: unverified rules must not produce deadlines")
	}
	if d.Start != startReceipt && d.Start != startIdentity {
		return r, fmt.Errorf("start %q: want %s or %s", d.Start, startReceipt, startIdentity)
	}
	if d.CountFrom != countRefDay && d.CountFrom != countNextDay {
		return r, fmt.Errorf("countFrom %q: want %s or %s", d.CountFrom, countRefDay, countNextDay)
	}
	if d.Calendar != "" {
		if r.cal = rs.calendars[d.Calendar]; r.cal == nil {
			return r, fmt.Errorf("calendar %q is not defined", d.Calendar)
		}
	}
	if err := checkPeriod(d.Period, r.cal != nil); err != nil {
		return r, fmt.Errorf("period: %w", err)
	}
	if d.Extended != nil {
		if err := checkPeriod(d.Extended, r.cal != nil); err != nil {
			return r, fmt.Errorf("extended: %w", err)
		}
		if d.Extended.Unit != d.Period.Unit || d.Extended.FromTenant != "" || d.Extended.N <= d.Period.N {
			return r, errors.New("extended must be a longer period in the same unit")
		}
	}
	if d.RollForward && r.cal == nil {
		return r, errors.New("rollForward needs a calendar")
	}
	if d.SmallAgentFactor < 0 || d.SmallAgentFactor > 4 {
		return r, errors.New("smallAgentFactor must be 0 to 4")
	}
	return r, nil
}

func checkPeriod(p *period, hasCalendar bool) error {
	switch {
	case p == nil:
		return errors.New("required")
	case p.FromTenant != "":
		if p.FromTenant != tenantPIPL || p.Unit != unitDay || p.N != 0 {
			return fmt.Errorf("fromTenant must be %q with unit day and no n", tenantPIPL)
		}
	case p.Unit == unitMonth && p.N >= 1 && p.N <= 12,
		p.Unit == unitDay && p.N >= 1 && p.N <= 366:
	case p.Unit == unitBusinessD && p.N >= 1 && p.N <= 250:
		if !hasCalendar {
			return errors.New("business days need a calendar")
		}
	default:
		return fmt.Errorf("%d %q: want 1-12 month, 1-366 day or 1-250 business-day", p.N, p.Unit)
	}
	return nil
}

// checkCoverage makes the data explicit and unambiguous: every regime states a
// rule (or noDeadline) for every request type, and no two rules of a regime
// cover the same type on the same day.
func (rs *Rules) checkCoverage() error {
	for _, g := range rs.regimes {
		for _, t := range requestTypes {
			var mine []rule
			for _, r := range rs.rules {
				if r.Regime == g.Code && slices.Contains(r.Types, t) {
					mine = append(mine, r)
				}
			}
			if len(mine) == 0 {
				return fmt.Errorf("regime %s states no rule for request type %s", g.Code, t)
			}
			for i, a := range mine {
				for _, b := range mine[i+1:] {
					if a.overlaps(b) {
						return fmt.Errorf("rules %s and %s overlap for %s %s", a.ID, b.ID, g.Code, t)
					}
				}
			}
		}
	}
	return nil
}

func (r rule) overlaps(o rule) bool {
	aEndsFirst := r.hasUntil && r.until.compare(o.from) <= 0
	bEndsFirst := o.hasUntil && o.until.compare(r.from) <= 0
	return !aEndsFirst && !bEndsFirst
}

// inForce reports whether r governs requests received on day d.
func (r rule) inForce(d date) bool {
	return d.compare(r.from) >= 0 && (!r.hasUntil || d.compare(r.until) < 0)
}

// ruleFor is the rule of regime for request type t received on day d, or nil
// when none is in force that day.
func (rs *Rules) ruleFor(regime, t string, d date) *rule {
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.Regime == regime && slices.Contains(r.Types, t) && r.inForce(d) {
			return r
		}
	}
	return nil
}

func (rs *Rules) knownRegime(code string) bool {
	return slices.ContainsFunc(rs.regimes, func(g regimeData) bool { return g.Code == code })
}

// HasCalendar reports whether name is one of the rules' holiday calendars.
func (rs *Rules) HasCalendar(name string) bool { return rs.calendars[name] != nil }

// WorkingDayEnd returns the end (23:59:59 in loc, as UTC) of the n-th working
// day of the named calendar after the local day of t in loc. The day of t
// does not count, whatever its hour (a deadline in days excludes the day it
// starts: Lei 9.784/1999 Art. 66 for the ANPD). An unknown calendar is an
// error.
func (rs *Rules) WorkingDayEnd(name string, t time.Time, n int, loc *time.Location) (time.Time, error) {
	c := rs.calendars[name]
	if c == nil {
		return time.Time{}, fmt.Errorf("%w: calendar %q is not defined", ErrInvalidInput, name)
	}
	return c.addWorkingDays(dateOf(t, loc), n).end(loc).UTC(), nil
}
