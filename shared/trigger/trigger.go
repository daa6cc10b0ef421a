// Package trigger holds the host-neutral shapes of an invocation: what a queue
// function receives, what a timer function receives, and the registry entry that
// pairs a function name with its handler. Every host adapter (Azure Functions,
// standalone, Lambda) turns its trigger into one of these typed calls.
package trigger

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Message is one queue message delivered to a queue function.
type Message struct {
	ID            string    // broker message id (the dedupe key it was sent with)
	Body          []byte    // exact body bytes
	DeliveryCount int       // 1 on first delivery
	EnqueuedAt    time.Time // when the broker accepted it
	Queue         string
	ContentType   string            // the broker's content type property, "" if unset
	Properties    map[string]string // application properties (Service Bus) or message attributes (SQS), as strings
}

// TimerInfo is what a timer function receives.
type TimerInfo struct {
	ScheduledAt time.Time // the occurrence being run (UTC)
	IsPastDue   bool      // the host missed the occurrence and runs it late
}

// QueueFunc handles one message. A nil error completes it. A non-nil error is
// transient: the host redelivers the message and dead-letters it after the
// maximum delivery count. Permanent failures must be recorded and return nil.
type QueueFunc func(ctx context.Context, m Message) error

// TimerFunc runs one timer occurrence. Failures are logged; the next occurrence
// runs on schedule.
type TimerFunc func(ctx context.Context, t TimerInfo) error

// DocumentsFunc handles one batch of changed documents from a change feed, each
// the document's JSON as stored. A non-nil error is transient: the host retries
// the batch under the function's retry policy. Handlers must be idempotent: a
// batch can be delivered again, and a document appears once per change.
type DocumentsFunc func(ctx context.Context, docs []json.RawMessage) error

// Function is a registry entry: exactly one of HTTP, Queue, Timer or Documents
// is set. Name equals the folder of its function.json.
type Function struct {
	Name      string
	HTTP      http.Handler
	Queue     QueueFunc
	Timer     TimerFunc
	Documents DocumentsFunc
}

type invocationKey struct{}

// Invocation is metadata that travels in the context of one invocation.
type Invocation struct {
	ID       string // the host's invocation id
	Function string
}

// WithInvocation returns ctx carrying inv.
func WithInvocation(ctx context.Context, inv Invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

// InvocationFrom returns the invocation in ctx, if any.
func InvocationFrom(ctx context.Context) (Invocation, bool) {
	inv, ok := ctx.Value(invocationKey{}).(Invocation)
	return inv, ok
}

// Rejection is a queue function's verdict that a message can never be
// processed (malformed, unknown tenant, a forged signature). Retrying cannot
// help: the standalone host dead-letters it at once with Reason; on Azure,
// where a custom handler cannot settle a message itself, it is logged with the
// reason and completed. The reason must not hold personal data.
type Rejection struct{ Reason string }

func (r *Rejection) Error() string { return "rejected: " + r.Reason }

// Reject returns a Rejection with reason.
func Reject(reason string) error { return &Rejection{Reason: reason} }
