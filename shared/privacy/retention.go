package privacy

import "time"

// RetentionPolicy is one of a tenant's retention policies, stored on the
// tenant document: what data (a retention category) in which scope may be kept
// how long after which event, and what happens after. The rules that decide
// whether a policy is acceptable (legal floors, supported scopes and actions)
// live in shared/retention; this is only the stored shape.
type RetentionPolicy struct {
	ID string `json:"id"`
	// Category is a retention category (retention.Category*: "customer",
	// "dsr-records", "system-logs", …).
	Category string `json:"category"`
	// Scope is "service" (a service of the tenant, named by Service) or
	// "suite" (privops's own records of the tenant).
	Scope   string `json:"scope"`
	Service string `json:"service,omitempty"`
	// MaxAgeDays is how long the data is kept after the From event.
	MaxAgeDays int `json:"maxAgeDays"`
	// From names the event the age counts from: "created", "last-modified",
	// "account-closed", "request-closed".
	From string `json:"from"`
	// TimestampPath is, for a service with a built-in container, the JSON path
	// of the item property holding the From event's time (RFC 3339).
	TimestampPath string `json:"timestampPath,omitempty"`
	// Action is what happens to data past its time: "delete" (anonymise and
	// storage-only are not available yet).
	Action string `json:"action"`
	// SignOff makes the policy's first real run wait until an admin
	// approves its latest preview (as a disposition review does); a change
	// to the policy needs a new approval.
	SignOff bool `json:"signOff,omitempty"`
	// LastPreview is the policy's latest complete preview (kept for
	// sign-off policies only): what an approval approves. Read only.
	LastPreview *RetentionPreviewRecord `json:"lastPreview,omitempty"`
	// Approved is the approval of a sign-off policy's preview; cleared when
	// the policy changes. Read only.
	Approved *RetentionApproval `json:"approved,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// RetentionPreviewRecord is what a preview found for one policy: counts only.
type RetentionPreviewRecord struct {
	At          time.Time `json:"at"`
	Status      string    `json:"status"`
	Scanned     int64     `json:"scanned"`
	Purged      int64     `json:"purged"`
	KeptByHold  int64     `json:"keptByHold"`
	KeptByFloor int64     `json:"keptByFloor"`
	Derived     int64     `json:"derived"`
}

// RetentionApproval records who approved which preview of a policy, when.
type RetentionApproval struct {
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	PreviewAt time.Time `json:"previewAt"`
}

// AwaitingSignOff reports whether the policy may not run yet: it needs
// sign-off and its current version has not been approved.
func (p *RetentionPolicy) AwaitingSignOff() bool { return p.SignOff && p.Approved == nil }

// RetentionPolicy returns the tenant's retention policy with id, or nil.
func (t *Tenant) RetentionPolicy(id string) *RetentionPolicy {
	for i := range t.RetentionPolicies {
		if t.RetentionPolicies[i].ID == id {
			return &t.RetentionPolicies[i]
		}
	}
	return nil
}
