package retention

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// State is what the tenant document keeps of its retention runs
// (privacy.Tenant.Retention): the run in progress, if any, and the reports of
// the most recent finished runs, newest first.
type State struct {
	Current *Run  `json:"current,omitempty"`
	Recent  []Run `json:"recent,omitempty"`
}

// Run is one retention run of a tenant: its plan (cutoffs fixed when it
// started), where it is (policy index and cursor, the page in flight), who
// holds it (owner and lease) and what it did so far, per policy.
type Run struct {
	ID         string    `json:"id"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Owner is the invocation sweeping the run until LeaseUntil; another
	// invocation skips the tenant while the lease holds, and takes the run
	// over (resuming from the checkpoint) once it ran out.
	Owner       string    `json:"owner,omitempty"`
	LeaseUntil  time.Time `json:"leaseUntil,omitzero"`
	Invocations int       `json:"invocations,omitempty"`
	// Policy is the index in Policies being swept; Cursor the id of the last
	// item of that policy's container done.
	Policy int    `json:"policy"`
	Cursor string `json:"cursor,omitempty"`
	// Phase is "" while the policy's own data is swept, and "derived" while
	// the derived copies of a service's data (export packages) are.
	Phase string `json:"phase,omitempty"`
	// Pending is the page whose deletes may be in flight: written before
	// them, folded into the counts by the next checkpoint. A run resuming
	// with a pending page redoes its deletes (idempotent) and counts it once.
	Pending  *Page          `json:"pending,omitempty"`
	Policies []PolicyReport `json:"policies"`

	// audit holds the audit events (tombstones, the run's end) the next
	// checkpoint carries into the tenant's audit outbox; not stored itself.
	audit []privacy.AuditEvent
}

// Page is a checkpointed page: the items of policy Policy with ids in
// (From, To], and what was decided about them.
type Page struct {
	Policy int    `json:"policy"`
	Phase  string `json:"phase,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to"`
	Counts Counts `json:"counts"`
	// Subjects are the keyed hashes of the subjects the page's purged items
	// concern (distinct, sorted): its tombstones, entered once the deletes
	// are done.
	Subjects []string `json:"subjects,omitempty"`
}

// Counts are the numbers a page adds to its policy's report.
type Counts struct {
	Scanned, Purged, KeptByHold, KeptByFloor, Failed int64
	Derived                                          int64 `json:",omitempty"`
	Anonymised, StorageOnly                          int64 `json:",omitempty"`
	Oldest, Newest                                   time.Time
}

// Finished reports whether the run has ended.
func (r *Run) Finished() bool { return !r.FinishedAt.IsZero() }

// decodeState reads the tenant's retention state.
func decodeState(t *privacy.Tenant) (State, error) {
	var st State
	if len(t.Retention) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(t.Retention, &st); err != nil {
		return st, fmt.Errorf("decode retention state of %s: %w", t.ID, err)
	}
	return st, nil
}

// encodeState stores st in the tenant document (not yet written).
func encodeState(t *privacy.Tenant, st State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode retention state: %w", err)
	}
	// The answers to Service Bus dry runs are the inbound queue's, not the
	// sweep's: carried over as stored (servicepurge_preview.go).
	if b, err = carryPreviews(t.Retention, b); err != nil {
		return err
	}
	t.Retention = b
	return nil
}

// Runs returns the tenant's runs, the current one first, then the recent ones.
func Runs(t *privacy.Tenant) ([]Run, error) {
	st, err := decodeState(t)
	if err != nil {
		return nil, err
	}
	out := make([]Run, 0, len(st.Recent)+1)
	if st.Current != nil {
		out = append(out, *st.Current)
	}
	return append(out, st.Recent...), nil
}

// Summary is a run as the operator sees it: counts, cutoffs and states only,
// without the checkpoint (item ids), the lease or the reasons.
type Summary struct {
	ID          string          `json:"id"`
	StartedAt   time.Time       `json:"startedAt"`
	FinishedAt  time.Time       `json:"finishedAt,omitzero"`
	Invocations int             `json:"invocations"`
	Policies    []PolicySummary `json:"policies"`
}

// PolicySummary is one policy's counts in a Summary.
type PolicySummary struct {
	PolicyID    string    `json:"policyId"`
	Category    string    `json:"category"`
	Scope       string    `json:"scope"`
	Status      string    `json:"status"`
	Cutoff      time.Time `json:"cutoff"`
	Scanned     int64     `json:"scanned"`
	Purged      int64     `json:"purged"`
	Anonymised  int64     `json:"anonymised"`
	KeptByHold  int64     `json:"keptByHold"`
	KeptByFloor int64     `json:"keptByFloor"`
	Failed      int64     `json:"failed"`
	// KeptByService, Derived and StorageOnly: see PolicyReport.
	KeptByService int64 `json:"keptByService"`
	Derived       int64 `json:"derived"`
	StorageOnly   int64 `json:"storageOnly"`
}

// Summarize returns the run's summary.
func (r *Run) Summarize() Summary {
	s := Summary{ID: r.ID, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Invocations: r.Invocations, Policies: []PolicySummary{}}
	for _, p := range r.Policies {
		s.Policies = append(s.Policies, PolicySummary{PolicyID: p.PolicyID, Category: p.Category, Scope: p.Scope, Status: p.Status,
			Cutoff: p.Cutoff, Scanned: p.Scanned, Purged: p.Purged, Anonymised: p.Anonymised, KeptByHold: p.KeptByHold,
			KeptByFloor: p.KeptByFloor, Failed: p.Failed, KeptByService: p.KeptByService, Derived: p.Derived, StorageOnly: p.StorageOnly})
	}
	return s
}
