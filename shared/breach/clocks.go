package breach

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/privops/privops/shared/deadline"
	"github.com/privops/privops/shared/privacy"
)

//go:embed clocks.json
var clocksJSON []byte

// Rule is one clock of clocks.json: who owes what to whom, from which
// trigger, in how long, under which conditions, and its source.
type Rule struct {
	ID           string `json:"id"`
	Jurisdiction string `json:"jurisdiction"` // "*" for every incident
	Party        string `json:"party"`        // controller (the tenant), processor (the operator towards the tenant), operator (its own duty)
	Obligation   string `json:"obligation"`   // authority, individuals, attorney-general, controller
	Phase        string `json:"phase,omitempty"`
	Trigger      string `json:"trigger"`
	// Exactly one of Hours, Days (calendar days in Zone), BusinessDays
	// (Monday to Friday in Zone, counted from the day after the trigger, due
	// at the end of the last one) or SLA (the tenant's contractual hours).
	Hours        int    `json:"hours,omitempty"`
	Days         int    `json:"days,omitempty"`
	BusinessDays int    `json:"businessDays,omitempty"`
	SLA          bool   `json:"sla,omitempty"`
	Zone         string `json:"zone,omitempty"`
	// Calendar names the holiday calendar (shared/deadline's rules.json)
	// whose holidays BusinessDays also skip; empty: Monday to Friday only.
	Calendar          string `json:"calendar,omitempty"`
	SmallAgentDoubles bool   `json:"smallAgentDoubles,omitempty"`
	// Conditions: minimum risk, CAC grade and operator class, the residents
	// threshold (inclusive), and the incident dates the rule is in force for
	// (From inclusive, Until exclusive; by the detection date, privacy-rules E.15).
	MinRisk       string `json:"minRisk,omitempty"`
	MinGrade      string `json:"minGrade,omitempty"`
	OperatorClass string `json:"operatorClass,omitempty"`
	MinResidents  int64  `json:"minResidents,omitempty"`
	From          string `json:"from,omitempty"`
	Until         string `json:"until,omitempty"`
	Source        string `json:"source"`

	loc         *time.Location
	from, until time.Time
}

// Triggers of a clock.
const (
	TriggerProcessorDetected   = "processor-detected"
	TriggerProcessorAware      = "processor-aware"
	TriggerProcessorDetermined = "processor-determined"
	TriggerControllerAware     = "controller-aware"
)

// Parties of a clock.
const (
	PartyController = "controller"
	PartyProcessor  = "processor"
	PartyOperator   = "operator"
)

// Rules are the parsed clocks.json.
type Rules struct{ rules []Rule }

// LoadRules parses a rules file and checks every rule.
func LoadRules(b []byte) (*Rules, error) {
	var f struct {
		Rules []Rule `json:"rules"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("breach clocks: %w", err)
	}
	for i := range f.Rules {
		r := &f.Rules[i]
		n := 0
		for _, set := range []bool{r.Hours > 0, r.Days > 0, r.BusinessDays > 0, r.SLA} {
			if set {
				n++
			}
		}
		switch {
		case r.ID == "" || r.Source == "":
			return nil, fmt.Errorf("breach clocks: rule %d needs an id and a source", i)
		case n != 1:
			return nil, fmt.Errorf("breach clocks: rule %s needs exactly one of hours, days, businessDays, sla", r.ID)
		case r.Jurisdiction != "*" && !slices.Contains(Jurisdictions, r.Jurisdiction):
			return nil, fmt.Errorf("breach clocks: rule %s: unknown jurisdiction %q", r.ID, r.Jurisdiction)
		case !slices.Contains([]string{TriggerProcessorDetected, TriggerProcessorAware, TriggerProcessorDetermined, TriggerControllerAware}, r.Trigger):
			return nil, fmt.Errorf("breach clocks: rule %s: unknown trigger %q", r.ID, r.Trigger)
		case !slices.Contains([]string{PartyController, PartyProcessor, PartyOperator}, r.Party):
			return nil, fmt.Errorf("breach clocks: rule %s: unknown party %q", r.ID, r.Party)
		case r.Calendar != "" && (r.BusinessDays == 0 || !deadline.Default().HasCalendar(r.Calendar)):
			return nil, fmt.Errorf("breach clocks: rule %s: calendar %q needs businessDays and a calendar of the deadline rules", r.ID, r.Calendar)
		}
		r.loc = time.UTC
		if r.Zone != "" {
			loc, err := privacy.Zone(r.Zone)
			if err != nil {
				return nil, fmt.Errorf("breach clocks: rule %s: %w", r.ID, err)
			}
			r.loc = loc
		}
		var err error
		if r.From != "" {
			if r.from, err = time.Parse(time.DateOnly, r.From); err != nil {
				return nil, fmt.Errorf("breach clocks: rule %s: from: %w", r.ID, err)
			}
		}
		if r.Until != "" {
			if r.until, err = time.Parse(time.DateOnly, r.Until); err != nil {
				return nil, fmt.Errorf("breach clocks: rule %s: until: %w", r.ID, err)
			}
		}
	}
	return &Rules{rules: f.Rules}, nil
}

// DefaultRules returns the embedded clocks.json, parsed once on first use;
// Rules are read-only, so every caller shares them.
var DefaultRules = sync.OnceValue(func() *Rules {
	r, err := LoadRules(clocksJSON)
	if err != nil {
		panic(err) // the embedded file is checked by a test
	}
	return r
})

// Clock is one legal or contractual clock of an incident, for a party.
type Clock struct {
	ID           string    `json:"id"`
	Jurisdiction string    `json:"jurisdiction"`
	Party        string    `json:"party"`
	Obligation   string    `json:"obligation"`
	Phase        string    `json:"phase,omitempty"`
	Trigger      string    `json:"trigger"`
	TriggerAt    time.Time `json:"triggerAt,omitzero"`
	Duration     string    `json:"duration"` // "72h", "30 calendar days", "3 business days"
	DueAt        time.Time `json:"dueAt,omitzero"`
	Status       string    `json:"status"`
	MetAt        time.Time `json:"metAt,omitzero"`
	Note         string    `json:"note,omitempty"`
	Source       string    `json:"source"`
}

// Clock statuses.
const (
	ClockAwaitingTrigger = "awaiting-trigger" // the trigger has not happened yet (the tenant is not notified yet)
	ClockRunning         = "running"
	ClockOverdue         = "overdue"
	ClockMet             = "met"
	ClockLate            = "met-late"
	ClockNotApplicable   = "not-applicable" // a condition (risk, grade, threshold) is not met
)

// Facts a clock computation reads besides the incident.
type ClockInput struct {
	// Controller-side: nil for the incident's own (operator) clocks.
	Notice     *Notice
	SLAHours   int  // the tenant's contractual window (processor-sla)
	SmallAgent bool // LGPD small processing agent (Res. 2/2022 doubles periods)
}

// Compute returns the clocks of the incident for party set: the operator's
// own clocks when in.Notice is nil, else the processor's and the
// controller's clocks towards and of that tenant. now decides running or overdue.
func (rs *Rules) Compute(inc *Incident, ci ClockInput, now time.Time) []Clock {
	out := []Clock{}
	for _, r := range rs.rules {
		if (ci.Notice == nil) != (r.Party == PartyOperator) {
			continue
		}
		if r.Jurisdiction != "*" && !slices.Contains(inc.Jurisdictions, r.Jurisdiction) {
			continue
		}
		if !r.from.IsZero() && inc.DetectedAt.Before(r.from) || !r.until.IsZero() && !inc.DetectedAt.Before(r.until) {
			continue
		}
		if r.OperatorClass != "" && r.OperatorClass != classOf(inc) {
			continue
		}
		out = append(out, r.clock(inc, ci, now))
		if r.SLA && ci.Notice != nil {
			// Each phased report is a version with its own clock: the
			// processor's window to deliver it to the controller, from
			// the report's time (Art. 33(4): "without undue further delay").
			for _, rep := range ci.Notice.Reports {
				if rep.Version > 1 {
					out = append(out, r.versionClock(rep, ci, now))
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Clock) int {
		switch {
		case a.DueAt.IsZero() != b.DueAt.IsZero():
			if a.DueAt.IsZero() {
				return 1
			}
			return -1
		}
		return a.DueAt.Compare(b.DueAt)
	})
	return out
}

func classOf(inc *Incident) string {
	if inc.OperatorClass == "" {
		return ClassOther
	}
	return inc.OperatorClass
}

func (r *Rule) clock(inc *Incident, ci ClockInput, now time.Time) Clock {
	c := Clock{ID: r.ID, Jurisdiction: r.Jurisdiction, Party: r.Party, Obligation: r.Obligation, Phase: r.Phase,
		Trigger: r.Trigger, Source: r.Source}
	switch {
	case r.MinRisk != "" && slices.Index(risks, inc.Risk) < slices.Index(risks, r.MinRisk):
		c.Status, c.Note = ClockNotApplicable, "risk "+inc.Risk+" is below "+r.MinRisk+": documented, not reported"
		return c
	case r.MinGrade != "" && slices.Index(grades, inc.Grade) < slices.Index(grades, r.MinGrade):
		c.Status, c.Note = ClockNotApplicable, "grade below "+r.MinGrade
		return c
	case r.MinResidents > 0:
		n, known := inc.Residents[r.Jurisdiction]
		if !known {
			c.Note = "applies if at least " + strconv.FormatInt(r.MinResidents, 10) + " residents are affected; the number is not known yet"
		} else if n < r.MinResidents {
			c.Status, c.Note = ClockNotApplicable, strconv.FormatInt(n, 10)+" residents, below the threshold of "+strconv.FormatInt(r.MinResidents, 10)
			return c
		}
	}
	switch r.Trigger {
	case TriggerProcessorDetected:
		c.TriggerAt = inc.DetectedAt
	case TriggerProcessorAware:
		c.TriggerAt = inc.AwareAt
	case TriggerProcessorDetermined:
		c.TriggerAt = inc.Determined()
	case TriggerControllerAware:
		if ci.Notice != nil {
			c.TriggerAt = ci.Notice.NotifiedAt
		}
	}
	mult := 1
	if r.SmallAgentDoubles && ci.SmallAgent {
		mult = 2
		c.Note = joinNote(c.Note, "doubled for a small processing agent (Res. CD/ANPD 2/2022), unless the risk is to physical or moral integrity")
	}
	switch {
	case r.SLA:
		h := ci.SLAHours
		if h <= 0 {
			h = 24
		}
		c.Duration = strconv.Itoa(h) + "h (contract SLA)"
	case r.Hours > 0:
		c.Duration = strconv.Itoa(r.Hours) + "h"
	case r.Days > 0:
		c.Duration = strconv.Itoa(r.Days*mult) + " calendar days"
	default:
		c.Duration = strconv.Itoa(r.BusinessDays*mult) + " business days"
	}
	if c.TriggerAt.IsZero() {
		c.Status = ClockAwaitingTrigger
		return c
	}
	switch {
	case r.SLA:
		c.DueAt = c.TriggerAt.Add(time.Duration(ci.slaHours()) * time.Hour)
	case r.Hours > 0:
		c.DueAt = c.TriggerAt.Add(time.Duration(r.Hours) * time.Hour)
	case r.Days > 0:
		c.DueAt = c.TriggerAt.In(r.loc).AddDate(0, 0, r.Days*mult).UTC()
	case r.Calendar != "":
		due, err := deadline.Default().WorkingDayEnd(r.Calendar, c.TriggerAt, r.BusinessDays*mult, r.loc)
		if err != nil { // LoadRules checked the calendar exists
			due = AddBusinessDays(c.TriggerAt, r.BusinessDays*mult, r.loc)
		}
		c.DueAt = due
	default:
		c.DueAt = AddBusinessDays(c.TriggerAt, r.BusinessDays*mult, r.loc)
	}
	c.MetAt = metAt(r, inc, ci)
	c.Status = status(c, now)
	return c
}

func (ci ClockInput) slaHours() int {
	if ci.SLAHours <= 0 {
		return 24
	}
	return ci.SLAHours
}

// versionClock is the processor's SLA clock of one phased report.
func (r *Rule) versionClock(rep Report, ci ClockInput, now time.Time) Clock {
	v := strconv.Itoa(rep.Version)
	c := Clock{ID: r.ID + "-v" + v, Jurisdiction: r.Jurisdiction, Party: r.Party, Obligation: r.Obligation, Phase: "report-v" + v,
		Trigger: "report-" + v, TriggerAt: rep.At, Duration: strconv.Itoa(ci.slaHours()) + "h (contract SLA)",
		DueAt: rep.At.Add(time.Duration(ci.slaHours()) * time.Hour), Source: r.Source}
	c.MetAt = ci.Notice.deliveredAt(rep.Version)
	c.Status = status(c, now)
	return c
}

func status(c Clock, now time.Time) string {
	switch {
	case !c.MetAt.IsZero() && !c.MetAt.After(c.DueAt):
		return ClockMet
	case !c.MetAt.IsZero():
		return ClockLate
	case now.After(c.DueAt):
		return ClockOverdue
	}
	return ClockRunning
}

// metAt says when a clock was met, as far as privops can know: a processor
// clock when the tenant's first notice was delivered; an operator clock or a
// controller clock (the LGPD supplement included: the controller files it)
// when the operator or the tenant recorded it met.
func metAt(r *Rule, inc *Incident, ci ClockInput) time.Time {
	switch {
	case r.Party == PartyProcessor && ci.Notice != nil:
		return ci.Notice.NotifiedAt
	case ci.Notice != nil:
		return ci.Notice.Met[r.ID]
	default:
		return inc.Met[r.ID]
	}
}

// AddBusinessDays returns the end (23:59:59 local) of the n-th business day
// (Monday to Friday) after the local day of t in loc, in UTC. The trigger's
// own day does not count, whatever its hour (LGPD: prazo em dias úteis,
// excluding the day of the start). It knows no holidays: a rule naming a
// Calendar counts that calendar's working days instead (privacy-rules E.4).
func AddBusinessDays(t time.Time, n int, loc *time.Location) time.Time {
	l := t.In(loc)
	d := time.Date(l.Year(), l.Month(), l.Day(), 12, 0, 0, 0, loc)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			n--
		}
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, loc).UTC()
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
