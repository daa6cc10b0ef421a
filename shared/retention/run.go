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
	// From is the event the policy's age counts from (sent to a service's
	// purge).
	From string `json:"from,omitempty"`
	// TimestampPath is the policy's, fixed with the cutoffs.
	TimestampPath string `json:"timestampPath,omitempty"`
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
		pp := PolicyPlan{PolicyID: p.ID, Category: p.Category, Scope: p.Scope, Service: p.Service, Action: p.Action, From: p.From, TimestampPath: p.TimestampPath,
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
	PurgeWait // a service's purge: its answer deadline, the answer counted, the exclusions sent
	// Status is "pending" (not reached yet), "running", "done", "failed"
	// (with Reason; counted in Failed where items were concerned),
	// "not-swept" with Reason when nothing of this policy could be swept (its
	// scope is not reachable yet), "not-supported" (a service without the
	// purge action, or that answered it has none), "kept-by-hold" (a legal
	// hold keeps the whole service's data: no purge was called), or
	// "not-previewed" (a preview does not call a service's purge, or it
	// answered that it has no dry run), "awaiting-answer" (a Service Bus
	// service's purge command was sent; its answer has not come yet) or
	// "no-answer" (it did not come by AnswerBy: a failed policy).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Scanned counts the items past the policy's cutoff that were looked at.
	Scanned    int64 `json:"scanned"`
	Purged     int64 `json:"purged"`     // deleted, or (dry run) that would be; not those anonymised or marked storage-only
	Anonymised int64 `json:"anonymised"` // personal data stripped, the stub kept (action anonymise)
	// StorageOnly counts the items marked storage-only (action storage-only,
	// PIPL Art. 47): kept, never processed again but stored.
	StorageOnly int64 `json:"storageOnly"`
	KeptByHold  int64 `json:"keptByHold"`
	KeptByFloor int64 `json:"keptByFloor"`
	Failed      int64 `json:"failed"`
	// KeptByService counts the items past the cutoff a service's purge
	// answered it keeps for its own legal reasons.
	KeptByService int64 `json:"keptByService"`
	// Derived counts the export packages removed because they hold a copy
	// of this policy's service's data past the policy (derived copies go in
	// the same sweep as what they derive from).
	Derived int64 `json:"derived"`
	// Attempts counts the calls of a service's purge; RetryAt is when a
	// purge that failed transiently is called again (same Idempotency-Key).
	Attempts int       `json:"attempts,omitempty"`
	RetryAt  time.Time `json:"retryAt,omitzero"`
	// Oldest and Newest are the event times of the oldest and newest item
	// purged (or that would be).
	Oldest time.Time `json:"oldest,omitzero"`
	Newest time.Time `json:"newest,omitzero"`
}

// Count records the outcome of one item whose event is at ev.
func (c *Counts) Count(o Outcome, ev time.Time) {
	if o == NotDue {
		return
	}
	c.Scanned++
	switch o {
	case Purge:
		c.Purged++
		if c.Oldest.IsZero() || ev.Before(c.Oldest) {
			c.Oldest = ev.UTC()
		}
		if c.Newest.IsZero() || ev.After(c.Newest) {
			c.Newest = ev.UTC()
		}
	case KeptByHold:
		c.KeptByHold++
	case KeptByFloor:
		c.KeptByFloor++
	}
}

// Add adds a page's counts to the report.
func (r *PolicyReport) Add(c Counts) {
	r.Scanned += c.Scanned
	r.Purged += c.Purged
	r.KeptByHold += c.KeptByHold
	r.KeptByFloor += c.KeptByFloor
	r.Failed += c.Failed
	r.Derived += c.Derived
	r.Anonymised += c.Anonymised
	r.StorageOnly += c.StorageOnly
	if !c.Oldest.IsZero() && (r.Oldest.IsZero() || c.Oldest.Before(r.Oldest)) {
		r.Oldest = c.Oldest
	}
	if !c.Newest.IsZero() && (r.Newest.IsZero() || c.Newest.After(r.Newest)) {
		r.Newest = c.Newest
	}
}

// actOn moves the items decided Purge to the count of the policy's action:
// anonymised, or marked storage-only (delete keeps them purged).
func (c *Counts) actOn(action string) {
	switch action {
	case ActionAnonymise:
		c.Anonymised, c.Purged = c.Anonymised+c.Purged, 0
	case ActionStorageOnly:
		c.StorageOnly, c.Purged = c.StorageOnly+c.Purged, 0
	}
}
