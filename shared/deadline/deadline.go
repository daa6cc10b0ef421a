// Package deadline computes when a data subject request must be answered. It is
// pure: given the request's timestamps, the tenant's zone and settings and the
// applicable regimes, Compute returns every regime's deadline and the earliest
// one, with no clock, I/O or side effects. The legal rules are data (the
// embedded rules.json, validated at load), each carrying its source and the
// status tag of privacy-rules.md ([P] primary text seen, [S] secondary only).
//
// Counting follows privacy-rules.md §E: calendar days of the tenant's zone; the
// day of receipt is the reference date (3 Sep → 3 Oct, Reg. 1182/71 as
// summarised and the current ICO method); a month ending on a missing day clamps
// to the month's last day; an extension is counted from the start, not from the
// first due date (ICO: 31 Jan → 30 Apr); an extension counts only when noticed
// inside the first period; each regime's deadline is computed and the earliest
// wins (§E.17).
package deadline

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Regime codes, as used by tenants and by rules.json.
const (
	RegimeEUGDPR = "eu-gdpr"
	RegimeUKGDPR = "uk-gdpr"
	RegimeCCPA   = "us-ca-ccpa"
	RegimeVCDPA  = "us-va-vcdpa"
	RegimeCPA    = "us-co-cpa"
	RegimeLGPD   = "br-lgpd"
	RegimePIPL   = "cn-pipl"
	// RegimeTenantPolicy marks the fallback deadline: the tenant's own
	// commitment (Input.DefaultDays) when no regime sets one.
	RegimeTenantPolicy = "tenant-policy"
)

// maxPause bounds a pause so that a corrupt timestamp cannot make Compute walk
// millions of days; no clarification legitimately takes this long.
const maxPause = 10 * 366 * 24 * time.Hour

// ErrInvalidInput wraps every reason Compute refuses its input.
var ErrInvalidInput = errors.New("invalid deadline input")

// Pause is a stopped-clock interval: clarification asked (From) until received
// (To; zero while still awaited). Only rules marked pausable honour it.
type Pause struct{ From, To time.Time }

// Input is what a deadline depends on: the request's timestamps and the
// tenant's zone and settings.
type Input struct {
	// Regimes that apply to the request (see Applicable). None: tenant policy.
	Regimes []string
	// Type is the request type: access, export, erase, rectify, restrict,
	// lift-restriction or object.
	Type string
	// Location is the tenant's zone; calendar days are counted in it.
	Location *time.Location
	// ReceivedAt is when the request arrived. It also selects the rules in force.
	ReceivedAt time.Time
	// IdentityVerifiedAt is when the requested identity information arrived;
	// zero until then.
	IdentityVerifiedAt time.Time
	// Pauses are clarification stop-the-clock intervals.
	Pauses []Pause
	// ExtensionNoticedAt is when the extension notice (with reasons) was sent;
	// zero when none was.
	ExtensionNoticedAt time.Time
	// Now closes an open pause. Needed only when a pause is open.
	Now time.Time
	// PIPLDays is the tenant's period under PIPL, which sets none ("in a timely
	// manner", Art. 45); GB/T 35273-2020 §8.7 recommends 30 days after
	// verification. Needed (1-366) only when PIPL applies.
	PIPLDays int
	// LGPDSmallAgent doubles LGPD periods (Res. CD/ANPD 2/2022).
	LGPDSmallAgent bool
	// DefaultDays is the tenant's commitment, in calendar days from receipt,
	// when no regime produces a deadline. Needed (1-366) only then.
	DefaultDays int
}

// Deadline is one regime's deadline for a request.
type Deadline struct {
	// Regime is the regime code, or RegimeTenantPolicy.
	Regime string
	// RuleID is the rules.json id of the rule applied, for the audit trail.
	RuleID string
	// Rule is the rule in words with its source and status tag, e.g.
	// "GDPR Art. 12(3): one month from receipt … [P]".
	Rule string
	// DueDate is the civil due date in the tenant's zone, "2006-01-02".
	DueDate string
	// DueAt is the end of the due day (23:59:59) in the tenant's zone.
	DueAt time.Time
	// InitialAt is the end of the first period's due day: the extension notice
	// must be sent by then. It equals DueAt unless Extended.
	InitialAt time.Time
	// Extended: an extension notice was sent in time and DueAt is the extended
	// deadline. A notice sent after InitialAt does not extend (§E.3).
	Extended bool
	// ExtensionAllowed: the rule provides for an extension at all.
	ExtensionAllowed bool
	// Paused: the rule honours stop-the-clock and a pause is open, so the
	// deadline is provisional and moves one day per stopped day.
	Paused bool
}

// ExtensionWindowOpen reports whether an extension may still be noticed at t:
// the rule allows one, none was noticed in time yet, and t is not after the
// first period's due instant.
func (d Deadline) ExtensionWindowOpen(t time.Time) bool {
	return d.ExtensionAllowed && !d.Extended && !t.After(d.InitialAt)
}

// Result is the deadline to act on (the earliest) and every regime's deadline.
type Result struct {
	// Deadline is the earliest of All; on a tie, the first regime in Input.Regimes.
	Deadline
	// All lists every produced deadline, earliest first. A regime whose rule
	// sets no deadline for the request type (say LGPD erasure) is absent; when
	// none produces one, All holds the tenant-policy deadline only.
	All []Deadline
}

// Compute computes the deadlines of in with the embedded rules (Default).
func Compute(in Input) (Result, error) { return Default().Compute(in) }

// Compute computes every applicable regime's deadline for in and picks the
// earliest (privacy-rules.md §E.17). Rules are chosen by the day of receipt
// (§E.15); a regime with no rule in force that day produces nothing. Errors
// wrap ErrInvalidInput.
func (rs *Rules) Compute(in Input) (Result, error) {
	if err := rs.check(in); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	received := dateOf(in.ReceivedAt, in.Location)
	var all []Deadline
	var seen []string
	for _, regime := range in.Regimes {
		if slices.Contains(seen, regime) {
			continue
		}
		seen = append(seen, regime)
		r := rs.ruleFor(regime, in.Type, received)
		if r == nil || r.NoDeadline {
			continue
		}
		d, err := r.compute(in)
		if err != nil {
			return Result{}, fmt.Errorf("%w: %s: %w", ErrInvalidInput, regime, err)
		}
		all = append(all, d)
	}
	if len(all) == 0 {
		if in.DefaultDays < 1 || in.DefaultDays > 366 {
			return Result{}, fmt.Errorf("%w: no regime sets a deadline and DefaultDays %d is not 1-366", ErrInvalidInput, in.DefaultDays)
		}
		due := received.addDays(in.DefaultDays)
		all = []Deadline{{
			Regime:    RegimeTenantPolicy,
			RuleID:    RegimeTenantPolicy,
			Rule:      fmt.Sprintf("Tenant policy: %d calendar days from receipt (no applicable regime sets a deadline for this request)", in.DefaultDays),
			DueDate:   due.String(),
			DueAt:     due.end(in.Location),
			InitialAt: due.end(in.Location),
		}}
	}
	slices.SortStableFunc(all, func(a, b Deadline) int { return a.DueAt.Compare(b.DueAt) })
	return Result{Deadline: all[0], All: all}, nil
}

func (rs *Rules) check(in Input) error {
	switch {
	case in.Location == nil:
		return errors.New("location is required")
	case in.ReceivedAt.IsZero():
		return errors.New("receivedAt is required")
	case !slices.Contains(requestTypes, in.Type):
		return fmt.Errorf("unknown request type %q", in.Type)
	case !in.ExtensionNoticedAt.IsZero() && in.ExtensionNoticedAt.Before(in.ReceivedAt):
		return errors.New("extension noticed before the request was received")
	}
	for _, g := range in.Regimes {
		if !rs.knownRegime(g) {
			return fmt.Errorf("unknown regime %q", g)
		}
	}
	for _, p := range in.Pauses {
		switch {
		case p.From.IsZero():
			return errors.New("pause without a start")
		case !p.To.IsZero() && p.To.Before(p.From):
			return errors.New("pause ends before it starts")
		case p.To.IsZero() && in.Now.IsZero():
			return errors.New("an open pause needs now")
		case p.To.Sub(p.From) > maxPause || p.To.IsZero() && in.Now.Sub(p.From) > maxPause:
			return errors.New("pause longer than ten years")
		}
	}
	return nil
}

// compute applies one rule. The order matters and follows the ICO method:
// period from the start (clamped at month end), stopped days added back, then
// roll forward to a working day.
func (r *rule) compute(in Input) (Deadline, error) {
	loc := in.Location
	start := dateOf(in.ReceivedAt, loc)
	// UK Art. 12A / DPA 2018 s.54(3): the clock starts at the latest of receipt
	// and receipt of the identity information asked for. Until that arrives we
	// count from receipt: the earliest possible deadline, so a pending
	// verification never makes the engine late. The deadline moves later once
	// IdentityVerifiedAt is set. PIPL uses the same start (GB/T 35273 §8.7:
	// "after verification").
	if r.Start == startIdentity && !in.IdentityVerifiedAt.IsZero() {
		if v := dateOf(in.IdentityVerifiedAt, loc); v.compare(start) > 0 {
			start = v
		}
	}
	ref := start
	if r.CountFrom == countNextDay { // the pre-2019 ICO convention, kept as an option (§E.1)
		ref = start.addDays(1)
	}
	factor := 1
	if in.LGPDSmallAgent && r.SmallAgentFactor > 0 {
		factor = r.SmallAgentFactor
	}
	stopped, paused := r.stoppedDays(in, start)

	due := func(p *period) (date, error) {
		n := p.N
		if p.FromTenant == tenantPIPL {
			if in.PIPLDays < 1 || in.PIPLDays > 366 {
				return date{}, fmt.Errorf("PIPLDays %d is not 1-366", in.PIPLDays)
			}
			n = in.PIPLDays
		}
		n *= factor
		var d date
		switch p.Unit {
		case unitMonth:
			d = ref.addMonths(n)
		case unitDay:
			d = ref.addDays(n)
		case unitBusinessD:
			d = r.cal.addWorkingDays(ref, n)
		}
		// DPA 2018 s.54(3C)(b), UK GDPR Art. 12A: the days from asking for
		// clarification to receiving it, both included, do not count. Only
		// stopped days inside the (growing) period count.
		for _, s := range stopped {
			if s.compare(d) <= 0 {
				d = d.addDays(1)
			}
		}
		if r.RollForward {
			d = r.cal.nextWorkingDay(d)
		}
		return d, nil
	}

	first, err := due(r.Period)
	if err != nil {
		return Deadline{}, err
	}
	d := Deadline{
		Regime:           r.Regime,
		RuleID:           r.ID,
		Rule:             fmt.Sprintf("%s [%s]", r.Summary, r.Status),
		DueDate:          first.String(),
		DueAt:            first.end(loc),
		InitialAt:        first.end(loc),
		ExtensionAllowed: r.Extended != nil,
		Paused:           paused,
	}
	if d.ExtensionAllowed && !in.ExtensionNoticedAt.IsZero() && !in.ExtensionNoticedAt.After(d.InitialAt) {
		ext, err := due(r.Extended)
		if err != nil {
			return Deadline{}, err
		}
		d.Extended, d.DueDate, d.DueAt = true, ext.String(), ext.end(loc)
	}
	return d, nil
}

// stoppedDays lists, in order and once each, the days on or after start that a
// pause covers (an open pause runs to Now). Rules that are not pausable get none.
func (r *rule) stoppedDays(in Input, start date) (days []date, open bool) {
	if !r.Pausable {
		return nil, false
	}
	loc := in.Location
	set := map[date]bool{}
	for _, p := range in.Pauses {
		to := p.To
		if to.IsZero() {
			open, to = true, in.Now
		}
		from, last := dateOf(p.From, loc), dateOf(to, loc)
		if from.compare(start) < 0 {
			from = start
		}
		if open && last.compare(from) < 0 { // Now before the pause: its first day still counts
			last = from
		}
		for d := from; d.compare(last) <= 0; d = d.addDays(1) {
			set[d] = true
		}
	}
	for d := range set {
		days = append(days, d)
	}
	slices.SortFunc(days, date.compare)
	return days, open
}
