package privacy

import (
	"context"
	"time"
)

// Store is the state port: the source of truth. Every method is scoped to one
// tenant (the partition key) except ListTenants and ListStuck, which only timers
// call. Errors: ErrNotFound, ErrConflict, ErrUnavailable (all wrapped), or another
// error for a fault.
type Store interface {
	// GetTenant reads a tenant. ErrNotFound if absent.
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	// CreateTenant stores a new tenant and sets its ETag. ErrConflict if it exists.
	CreateTenant(ctx context.Context, t *Tenant) error
	// UpdateTenant replaces a tenant if its ETag still matches, and sets the new
	// ETag. ErrConflict on a mismatch, ErrNotFound if absent.
	UpdateTenant(ctx context.Context, t *Tenant) error
	// ListTenants returns every tenant (timers iterate them).
	ListTenants(ctx context.Context) ([]*Tenant, error)

	// CreateRequest stores a new request and sets its ETag. ErrConflict if the id
	// exists, which makes a create with a deterministic id idempotent.
	CreateRequest(ctx context.Context, r *Request) error
	// GetRequest is a point read. ErrNotFound if absent or of another tenant.
	GetRequest(ctx context.Context, tenantID, id string) (*Request, error)
	// UpdateRequest replaces the request if its ETag still matches and sets the
	// new ETag. ErrConflict on a mismatch; ErrNotFound if absent.
	UpdateRequest(ctx context.Context, r *Request) error
	// ListRequests pages through one tenant's requests, newest first.
	ListRequests(ctx context.Context, tenantID string, f RequestFilter) (RequestPage, error)
	// ListStuck returns up to limit requests of one tenant whose AttentionAt
	// (unpublished outbox events, or a task that should have moved) is before
	// olderThan, or that are open (not terminal)
	// with a due date before dueBefore. Used by the hourly watch, not a hot path.
	ListStuck(ctx context.Context, tenantID string, olderThan, dueBefore time.Time, limit int) ([]*Request, error)

	// AppendAudit appends e to its tenant's chain: it assigns Seq, PrevHash and
	// Hash (see Seal) atomically with respect to concurrent appends. Idempotent by
	// e.ID: if the tenant's chain already holds an event with that ID, nothing is
	// appended, e is filled from the stored event and nil is returned (so a
	// re-driven outbox never appends twice).
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns up to limit events of a tenant with Seq > afterSeq, in order.
	ListAudit(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]AuditEvent, error)
}

// OutMessage is a message to publish. ID is the dedupe key: publishing the same
// ID to the same queue twice within the dedupe window delivers it once.
type OutMessage struct {
	ID        string
	Body      []byte
	NotBefore time.Time // zero: deliver now; else scheduled delivery
	// ContentType and Properties (application properties) travel with the
	// message; the inbound queue's signature is one. Most messages set neither.
	ContentType string
	Properties  map[string]string
}

// Publisher is the queue port's sending side. Publish is idempotent per message ID.
// Errors: ErrUnavailable for a transient failure.
type Publisher interface {
	Publish(ctx context.Context, queue string, msgs ...OutMessage) error
}

// Mail is one message to send. ID becomes the Message-ID, so a resend after a
// crash can be recognised (the outbox mailer overwrites the same file).
type Mail struct {
	ID      string
	To      string
	Subject string
	Text    string
}

// Mailer is the mail port. Send returns ErrUnavailable for a transient failure.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Delivery is a message received from the built-in queue under a lease.
type Delivery struct {
	Queue         string
	ID            string // the message id (dedupe key)
	Body          []byte
	DeliveryCount int // 1 on the first delivery
	EnqueuedAt    time.Time
	Lease         string // identifies this delivery; settling with a stale lease fails
	ContentType   string
	Properties    map[string]string
}

// Receiver is the receiving side of the built-in queue (standalone host only; on
// Azure the Functions host receives from Service Bus). A received message is
// invisible to other receivers until its lease runs out, then delivered again
// with DeliveryCount+1.
type Receiver interface {
	// Receive leases the next visible message of queue for lease, or returns
	// (nil, nil) when none is visible.
	Receive(ctx context.Context, queue string, lease time.Duration) (*Delivery, error)
	// Complete removes a delivered message. ErrConflict if the lease was lost.
	Complete(ctx context.Context, d *Delivery) error
	// Retry makes the message visible again after delay. ErrConflict if the lease was lost.
	Retry(ctx context.Context, d *Delivery, delay time.Duration) error
	// Extend renews d's lease to run for lease from now, as the Functions host
	// renews a Service Bus lock while a function runs. ErrConflict if the
	// lease was lost.
	Extend(ctx context.Context, d *Delivery, lease time.Duration) error
	// DeadLetter moves the message to the queue's dead-letter list with reason.
	DeadLetter(ctx context.Context, d *Delivery, reason string) error
}

// SpooledMail is a mail stored, sealed, in the same write as the state change
// it follows (a submission's code mail), until it has been sent: a crash after
// the write leaves it to be sent by the next process. Sealed is opaque to the
// store (the service seals it with its own key): the store never sees the
// address or the code.
type SpooledMail struct {
	ID        string // the mail's id, its Message-ID
	TenantID  string
	CreatedAt time.Time
	Sealed    []byte
}
