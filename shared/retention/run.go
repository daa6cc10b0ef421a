package retention

import (
	"time"

	"github.com/privops/privops/shared/privacy"
)

// PolicyPlan is one policy's part of a run, fixed when the run starts: the
// cutoffs are computed once, in UTC, and every page of the run decides by
// them, so a run that resumes after a crash, or spans midnight or a DST
// change in the tenant's zone, applies the same line throughout.
type PolicyPlan struct {
	PolicyID string `json:"policyId"`
	Category string `json:"category"`
	Scope    string `json:"scope"`
	Service  string `json:"service,omitempty"`
	Action   string `json:"action"`
	// Cutoff: data whose event is before it is past the policy.
	Cutoff time.Time `json:"cutoff"`
	// FloorCutoff: data whose event is at or after it is kept by a legal
	// floor (the earliest cutoff of the binding floors); zero when none binds.
	FloorCutoff time.Time `json:"floorCutoff,omitzero"`
	Floors      []string  `json:"floors,omitempty"`
}

// NewPlans computes the plan of every policy of t for a run at now. A policy
// saved before a floor began to bind the tenant (a regime added later, a new
// floor) is still held to that floor here: the floor is checked again on
// every item, not only when the policy is saved.
func NewPlans(t *privacy.Tenant, floors *Floors, now time.Time) []PolicyPlan {
	now = now.UTC()
	out := make([]PolicyPlan, 0, len(t.RetentionPolicies))
	for _, p := range t.RetentionPolicies {
		pp := PolicyPlan{PolicyID: p.ID, Category: p.Category, Scope: p.Scope, Service: p.Service, Action: p.Action,
			// UTC days are 24 hours: a maximum age in days is exact here.
			Cutoff: now.Add(-time.Duration(p.MaxAgeDays) * 24 * time.Hour)}
		for _, f := range floors.For(t, p.Category, now) {
			c := f.Cutoff(now)
			if pp.FloorCutoff.IsZero() || c.Before(pp.FloorCutoff) {
				pp.FloorCutoff = c
			}
			pp.Floors = append(pp.Floors, f.ID)
		}
		out = append(out, pp)
	}
	return out
}

// Outcome is what a sweep does with one item.
type Outcome int

// Outcomes of Decide.
const (
	NotDue      Outcome = iota // not past the policy: untouched, not counted
	Purge                      // past the policy, no hold, no floor: the policy's action applies
	KeptByHold                 // a legal hold covers it
	KeptByFloor                // a legal floor still binds it
)

// Item is what a sweep knows of one item to decide on it: the time of the
// policy's event and the keyed hash of the subject it is about ("" when it
// names none the sweep can hash).
type Item struct {
	Event       time.Time
	SubjectHash string
}

// Decide decides one item under the plan. Holds win over everything, then
// floors (GDPR Art. 17(3)(b),(e); the floors' own sources), then the policy.
// It returns the hold that keeps the item, if one does.
func (pp *PolicyPlan) Decide(t *privacy.Tenant, it Item) (Outcome, *privacy.Hold) {
	if !it.Event.Before(pp.Cutoff) {
		return NotDue, nil
	}
	for i := range t.Holds {
		if t.Holds[i].CoversRetention(it.SubjectHash, pp.Service, pp.Category) {
			return KeptByHold, &t.Holds[i]
		}
	}
	if !pp.FloorCutoff.IsZero() && !it.Event.Before(pp.FloorCutoff) {
		return KeptByFloor, nil
	}
	return Purge, nil
}

// PolicyReport is what a run (or a preview) did under one policy: counts and
// times, never contents.
type PolicyReport struct {
	PolicyPlan
	// Status is "done", or "not-swept" with Reason when nothing of this policy
	// could be swept (its scope is not reachable yet).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Scanned counts the items past the policy's cutoff that were looked at.
	Scanned     int64 `json:"scanned"`
	Purged      int64 `json:"purged"` // deleted, or (dry run) that would be
	Anonymised  int64 `json:"anonymised"`
	KeptByHold  int64 `json:"keptByHold"`
	KeptByFloor int64 `json:"keptByFloor"`
	Failed      int64 `json:"failed"`
	// Oldest and Newest are the event times of the oldest and newest item
	// purged (or that would be).
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}

// Count records the outcome of one item whose event is at ev.
func (r *PolicyReport) Count(o Outcome, ev time.Time) {
	if o == NotDue {
		return
	}
	r.Scanned++
	switch o {
	case Purge:
		r.Purged++
		if r.Oldest.IsZero() || ev.Before(r.Oldest) {
			r.Oldest = ev.UTC()
		}
		if r.Newest.IsZero() || ev.After(r.Newest) {
			r.Newest = ev.UTC()
		}
	case KeptByHold:
		r.KeptByHold++
	case KeptByFloor:
		r.KeptByFloor++
	}
}
