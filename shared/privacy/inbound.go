package privacy

import (
	"context"
	"time"
)

// InboundStatus is what became of a message from a tenant's system.
type InboundStatus string

// Inbound statuses.
const (
	// InboundAccepted: verified and carried out (or found already carried out).
	InboundAccepted InboundStatus = "accepted"
	// InboundRejected: permanently bad (forged, malformed, unknown type or
	// tenant); acknowledged, never retried, kept for the tenant's admins and
	// for a replay after a fix.
	InboundRejected InboundStatus = "rejected"
	// InboundReplayed: a rejected message that was re-submitted; the replay's
	// outcome is a record of its own.
	InboundReplayed InboundStatus = "replayed"
)

// OperatorTenant is the partition that holds rejections naming no known
// tenant: only the operator (the replay command) sees them, never a tenant.
const OperatorTenant = "_operator"

// InboundRecord is one message received over the inbound queue from a tenant's
// own system (an HR system asking for an erasure, a service reporting a task
// result). An accepted record is the deduplication mark of its CloudEvents id;
// a rejected one keeps the body, for a replay, until ExpiresAt.
type InboundRecord struct {
	TenantID  string        `json:"tenantId"` // the named tenant, or OperatorTenant
	ID        string        `json:"id"`       // "ce-" + hash of the CloudEvents id (accepted); "rj-" + hash of the body (rejected)
	EventID   string        `json:"eventId,omitempty"`
	MessageID string        `json:"messageId,omitempty"`
	Type      string        `json:"type,omitempty"`
	Source    string        `json:"source,omitempty"`
	Status    InboundStatus `json:"status"`
	Code      string        `json:"code,omitempty"`   // rejection code, e.g. "bad-signature"
	Reason    string        `json:"reason,omitempty"` // never personal data
	// RequestID is the request the message created or acted on.
	RequestID  string    `json:"requestId,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
	// Rejected only: the exact body, content type and application properties,
	// to replay after a fix. The body may hold personal data: it is removed
	// (the whole record expires) at ExpiresAt.
	Body        []byte            `json:"body,omitempty"`
	ContentType string            `json:"contentType,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
	ExpiresAt   time.Time         `json:"expiresAt,omitzero"`

	ETag string `json:"-"`
}

// InboundFilter selects inbound records of one tenant, newest first.
type InboundFilter struct {
	Status InboundStatus // "" for every status
	Limit  int           // 1..100 (default 50)
	Cursor string        // from the previous page
}

// InboundPage is one page of inbound records.
type InboundPage struct {
	Records []*InboundRecord
	Next    string // "" on the last page
}

// InboundLog is the store of inbound records, one partition per tenant. Store
// adapters implement it beside Store.
type InboundLog interface {
	// CreateInbound stores a new record and sets its ETag. ErrConflict if a
	// record with its id exists for the tenant (the deduplication check).
	CreateInbound(ctx context.Context, r *InboundRecord) error
	// GetInbound is a point read. ErrNotFound if absent, of another tenant, or
	// expired.
	GetInbound(ctx context.Context, tenantID, id string) (*InboundRecord, error)
	// UpdateInbound replaces a record if its ETag still matches and sets the new
	// ETag. ErrConflict on a mismatch; ErrNotFound if absent.
	UpdateInbound(ctx context.Context, r *InboundRecord) error
	// ListInbound pages through one tenant's records, newest ReceivedAt first
	// (ties by id), skipping expired ones. A cursor that is malformed or made
	// for another tenant or filter is a wrapped *Error "invalid-cursor" of
	// KindInvalid, as for ListRequests.
	ListInbound(ctx context.Context, tenantID string, f InboundFilter) (InboundPage, error)
}
