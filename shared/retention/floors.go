package retention

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Floor is a legal retention floor: data of Category must be kept at least
// Months calendar months, because the law of Regime says so (Source).
type Floor struct {
	ID         string `json:"id"`
	Category   string `json:"category"`
	Regime     string `json:"regime,omitempty"`
	Always     bool   `json:"always,omitempty"` // applies to every tenant, whatever its regimes
	Months     int    `json:"months"`
	ClockStart string `json:"clockStart"`
	From       string `json:"from,omitempty"` // YYYY-MM-DD: in force for sweeps from this day (UTC)
	Rule       string `json:"rule"`
	Source     string `json:"source"`
	Status     string `json:"status"`
}

// Floors is a set of floors, as parsed from a rules file.
type Floors struct {
	list []Floor
	from map[string]time.Time
}

//go:embed floors.json
var floorsJSON []byte

var defaultFloors = sync.OnceValue(func() *Floors {
	f, err := ParseFloors(floorsJSON)
	if err != nil {
		panic("retention: embedded floors.json: " + err.Error())
	}
	return f
})

// DefaultFloors returns the floors of the embedded floors.json.
func DefaultFloors() *Floors { return defaultFloors() }

// ParseFloors parses and checks a floors file: every floor needs an id (unique),
// a known category, a known regime or always, a positive number of months, a
// rule, a source and a status.
func ParseFloors(data []byte) (*Floors, error) {
	var doc struct {
		About  []string `json:"about"`
		Floors []Floor  `json:"floors"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse floors: %w", err)
	}
	out := &Floors{from: map[string]time.Time{}}
	seen := map[string]bool{}
	for _, f := range doc.Floors {
		switch {
		case f.ID == "" || seen[f.ID]:
			return nil, fmt.Errorf("floor %q: id missing or repeated", f.ID)
		case !slices.Contains(Categories, f.Category):
			return nil, fmt.Errorf("floor %s: unknown category %q", f.ID, f.Category)
		case f.Always == (f.Regime != ""):
			return nil, fmt.Errorf("floor %s: name a regime or set always, not both", f.ID)
		case f.Regime != "" && !slices.Contains(privacy.Regimes, f.Regime):
			return nil, fmt.Errorf("floor %s: unknown regime %q", f.ID, f.Regime)
		case f.Months < 1 || f.Months > 1200:
			return nil, fmt.Errorf("floor %s: months must be 1-1200", f.ID)
		case strings.TrimSpace(f.Rule) == "" || strings.TrimSpace(f.Source) == "":
			return nil, fmt.Errorf("floor %s: rule and source are required", f.ID)
		case !slices.Contains([]string{"P", "S", "U"}, f.Status):
			return nil, fmt.Errorf("floor %s: status must be P, S or U", f.ID)
		}
		if f.From != "" {
			d, err := time.Parse(time.DateOnly, f.From)
			if err != nil {
				return nil, fmt.Errorf("floor %s: from must be YYYY-MM-DD", f.ID)
			}
			out.from[f.ID] = d
		}
		seen[f.ID] = true
		out.list = append(out.list, f)
	}
	return out, nil
}

// All returns every floor.
func (fs *Floors) All() []Floor { return slices.Clone(fs.list) }

// For returns the floors that bind data of category for tenant t at now: its
// regime is one of t's regimes or establishment regimes (or it applies
// always), and it is in force at now.
func (fs *Floors) For(t *privacy.Tenant, category string, now time.Time) []Floor {
	var out []Floor
	for _, f := range fs.list {
		if f.Category != category {
			continue
		}
		if !f.Always && !slices.Contains(t.Regimes, f.Regime) && !slices.Contains(t.Establishment, f.Regime) {
			continue
		}
		if from, ok := fs.from[f.ID]; ok && now.Before(from) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Regime names the floor's regime for a decision ("always" floors name their
// source's jurisdiction through the id).
func (f Floor) regime() string {
	if f.Regime != "" {
		return f.Regime
	}
	return "any (" + f.ID + ")"
}

// MinDays is the longest that Months calendar months can last, in days: a
// policy's maxAgeDays must reach it, whatever day its clock starts on.
func (f Floor) MinDays() int { return maxDaysIn(f.Months) }

// Cutoff is the floor's cutoff for a run at now: data whose event is at or
// after it is still within the floor. It is now minus Months calendar months,
// month-end clamped (31 Mar - 1 month = 28/29 Feb). Data before the cutoff is
// always past the floor however the law's month is counted: AddMonths(event)
// ≤ AddMonths(cutoff) ≤ now, since clamping only shortens.
func (f Floor) Cutoff(now time.Time) time.Time { return AddMonths(now.UTC(), -f.Months) }

// AddMonths adds n calendar months to t, clamping to the last day of the
// target month (31 Jan + 1 month = 28/29 Feb), keeping the time of day.
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// maxDaysIn returns the most days n calendar months can span, over every start
// day of a 400-year Gregorian cycle's leap pattern (four years suffice: the
// cycle's exceptions only remove leap days).
func maxDaysIn(n int) int {
	best := 0
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range 4 * 366 {
		s := start.AddDate(0, 0, d)
		days := int(AddMonths(s, n).Sub(s).Hours() / 24)
		best = max(best, days)
	}
	return best
}
