package privacy

import "time"

// Offboarding is the end of a tenant's contract (GDPR Art. 28(3)(g): at the
// end of the processing services the processor deletes or returns all
// personal data, at the controller's choice, and deletes existing copies
// unless law requires storage). The operator's request moves the tenant to
// TenantOffboarding and records it here; the hourly deadline watch builds the
// return package (when the controller chose it), waits out the notice
// period, then purges everything of the tenant page by page, checkpointing
// here, and finally deletes this document with the tenant's. Active legal
// holds keep the purge from starting (Blocked says which).
type Offboarding struct {
	// ID names this offboarding (and its certificate).
	ID          string         `json:"id"`
	Choice      OffboardChoice `json:"choice"`
	RequestedAt time.Time      `json:"requestedAt"`
	By          string         `json:"by"`
	// PurgeAfter is RequestedAt plus the notice period (OFFBOARD_NOTICE).
	PurgeAfter time.Time `json:"purgeAfter"`
	// Previous is the status a cancel returns the tenant to.
	Previous TenantStatus `json:"previous"`
	// Package is the return package, once built (choice return-then-delete).
	Package *OffboardPackage `json:"package,omitempty"`
	// Blocked says why a due purge has not started: the active legal holds
	// (ids and categories only, never their subject).
	Blocked *OffboardBlock `json:"blocked,omitempty"`
	// Purge is the purge's checkpoint, once it started; from then on the
	// offboarding can no longer be cancelled.
	Purge *OffboardPurge `json:"purge,omitempty"`
}

// OffboardChoice is the controller's choice at the end of the contract.
type OffboardChoice string

// The controller's choices (GDPR Art. 28(3)(g)).
const (
	// OffboardReturnThenDelete returns the data (a package the controller
	// downloads during the notice period), then deletes it.
	OffboardReturnThenDelete OffboardChoice = "return-then-delete"
	// OffboardDelete deletes it after the notice period, returning nothing.
	OffboardDelete OffboardChoice = "delete"
)

// OffboardPackage is the stored return package.
type OffboardPackage struct {
	Blob      string    `json:"blob"`
	Bytes     int64     `json:"bytes"`
	Files     int       `json:"files"`
	CreatedAt time.Time `json:"createdAt"`
}

// OffboardBlock is why a due purge waits.
type OffboardBlock struct {
	Since time.Time `json:"since"`
	Holds []HoldRef `json:"holds"`
}

// HoldRef names a legal hold without its subject or reason.
type HoldRef struct {
	ID       string       `json:"id"`
	Scope    HoldScope    `json:"scope"`
	Category HoldCategory `json:"category,omitempty"`
}

// OffboardPurge is the purge's checkpoint: what it found when it started
// (the certificate's counts) and which kinds it finished.
type OffboardPurge struct {
	StartedAt time.Time      `json:"startedAt"`
	Found     map[string]int `json:"found"`
	Done      []string       `json:"done,omitempty"`
}

// IsOffboarding reports whether the tenant is being offboarded.
func (t *Tenant) IsOffboarding() bool { return t.Status == TenantOffboarding }

// ActiveHolds returns the tenant's holds that are not released.
func (t *Tenant) ActiveHolds() []HoldRef {
	var out []HoldRef
	for _, h := range t.Holds {
		if h.ReleasedAt.IsZero() {
			out = append(out, HoldRef{ID: h.ID, Scope: h.Scope, Category: h.Category})
		}
	}
	return out
}

// Kinds of a tenant's stored data, as the offboarding purge counts and
// deletes them (store adapters implement the purge per kind).
const (
	DataKindRequests = "requests" // requests, with their tasks
	DataKindInbound  = "inbound"  // the inbound ledger, bodies included
	DataKindItems    = "items"    // the built-in data containers' items
	DataKindAudit    = "audit"    // the tenant's audit chain

	// The breach notices the processor sent the tenant (shared/breach; every
	// store adapter keeps them in the tenant's partition).
	DataKindBreachNotices = "breach-notices"
	// The data-subject fan-out's records (shared/breachsend; the embedded
	// store only): recipient lists with the records of staged lists, the
	// delivery ledger, and the campaigns with their batch claims.
	DataKindBreachRecipients = "breach-recipients"
	DataKindBreachLedger     = "breach-ledger"
	DataKindBreachCampaigns  = "breach-campaigns"
)
