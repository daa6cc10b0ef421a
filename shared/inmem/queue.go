package inmem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

var (
	_ privacy.Publisher = (*Queue)(nil)
	_ privacy.Receiver  = (*Queue)(nil)
)

// ReasonMaxDeliveries is the dead-letter reason of a message that was delivered
// the maximum number of times without being completed.
const ReasonMaxDeliveries = "max-delivery-count-exceeded"

// QueueOptions configures a Queue. Zero fields take their defaults.
type QueueOptions struct {
	// Now is the clock that drives visibility, leases and dedupe (default time.Now).
	Now func() time.Time
	// MaxDeliveries is how many times a message is delivered before it is
	// dead-lettered instead (default 10).
	MaxDeliveries int
	// DedupeWindow is how long a published id suppresses republishing (default 10m).
	DedupeWindow time.Duration
}

// Queue is an in-memory queue with the built-in queue's semantics: dedupe by
// message id within a window, scheduled delivery, leases, retry with delay and
// dead letters. It is safe for concurrent use.
type Queue struct {
	opts   QueueOptions
	mu     sync.Mutex
	seq    int64                 // enqueue order and lease source
	queues map[string][]*message // per queue: live and dead messages in enqueue order
	dedupe map[dedupeKey]time.Time
}

type dedupeKey struct{ queue, id string }

type message struct {
	seq         int64
	id          string
	body        []byte
	enqueuedAt  time.Time
	visibleAt   time.Time
	count       int
	lease       string // set while delivered and not settled
	dead        bool
	deadAt      time.Time
	reason      string
	contentType string
	properties  map[string]string
}

// DeadLetter is a message moved to a queue's dead-letter list.
type DeadLetter struct {
	Queue         string
	ID            string
	Body          []byte
	DeliveryCount int
	EnqueuedAt    time.Time
	DeadAt        time.Time
	Reason        string
	ContentType   string
	Properties    map[string]string
}

// Counts is a snapshot of a queue: live messages by state, and dead letters.
type Counts struct {
	Visible int // can be received now
	Leased  int // delivered, lease running
	Delayed int // scheduled or retried, not yet visible
	Dead    int
}

// NewQueue returns an empty queue.
func NewQueue(opts QueueOptions) *Queue {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxDeliveries <= 0 {
		opts.MaxDeliveries = 10
	}
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = 10 * time.Minute
	}
	return &Queue{opts: opts, queues: map[string][]*message{}, dedupe: map[dedupeKey]time.Time{}}
}

// Publish enqueues msgs on queue, skipping any whose id was published to queue
// within the dedupe window (so it is idempotent per id). A message with a
// NotBefore in the future becomes visible then. Every message needs an id.
// Body, content type and properties are delivered as published, through
// retries, dead-lettering and requeueing.
func (q *Queue) Publish(ctx context.Context, queue string, msgs ...privacy.OutMessage) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	for i, m := range msgs {
		if m.ID == "" {
			return fmt.Errorf("publish to %s: message %d has no id", queue, i)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	for k, exp := range q.dedupe {
		if !exp.After(now) {
			delete(q.dedupe, k)
		}
	}
	for _, m := range msgs {
		k := dedupeKey{queue, m.ID}
		if _, dup := q.dedupe[k]; dup {
			continue
		}
		q.dedupe[k] = now.Add(q.opts.DedupeWindow)
		q.seq++
		q.queues[queue] = append(q.queues[queue], &message{seq: q.seq, id: m.ID, body: bytes.Clone(m.Body),
			enqueuedAt: now, visibleAt: later(now, m.NotBefore), contentType: m.ContentType,
			properties: cloneProperties(m.Properties)})
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Receive leases the visible message of queue that became visible first (then
// the first enqueued) for lease, or returns (nil, nil) when none is visible. A
// message already delivered MaxDeliveries times is dead-lettered with reason
// ReasonMaxDeliveries instead of being delivered. lease must be positive.
func (q *Queue) Receive(ctx context.Context, queue string, lease time.Duration) (*privacy.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("receive from %s: %w", queue, err)
	}
	if lease <= 0 {
		return nil, fmt.Errorf("receive from %s: lease %s is not positive", queue, lease)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	var next *message
	for _, m := range q.queues[queue] {
		if m.dead || m.visibleAt.After(now) {
			continue
		}
		if m.count >= q.opts.MaxDeliveries {
			m.kill(now, ReasonMaxDeliveries)
			continue
		}
		if next == nil || m.visibleAt.Before(next.visibleAt) {
			next = m
		}
	}
	if next == nil {
		return nil, nil
	}
	q.seq++
	next.count++
	next.lease = strconv.FormatInt(next.seq, 10) + "." + strconv.FormatInt(q.seq, 10)
	next.visibleAt = now.Add(lease)
	return &privacy.Delivery{Queue: queue, ID: next.id, Body: bytes.Clone(next.body),
		DeliveryCount: next.count, EnqueuedAt: next.enqueuedAt, Lease: next.lease,
		ContentType: next.contentType, Properties: cloneProperties(next.properties)}, nil
}

// cloneProperties copies p; none is nil, as the SQLite queue returns it.
func cloneProperties(p map[string]string) map[string]string {
	if len(p) == 0 {
		return nil
	}
	return maps.Clone(p)
}

func (m *message) kill(now time.Time, reason string) {
	m.dead, m.deadAt, m.reason, m.lease = true, now, reason, ""
}

// errLeaseLost is wrapped with privacy.ErrConflict when a settle comes too late.
var errLeaseLost = fmt.Errorf("lease lost: %w", privacy.ErrConflict)

// leased returns the live message d still holds the lease of. Callers hold mu.
func (q *Queue) leased(d *privacy.Delivery) (*message, error) {
	if d == nil || d.Lease == "" {
		return nil, errors.New("no delivery")
	}
	for _, m := range q.queues[d.Queue] {
		if m.lease == d.Lease && m.id == d.ID && !m.dead && m.visibleAt.After(q.opts.Now()) {
			return m, nil
		}
	}
	return nil, errLeaseLost
}

// Complete removes a delivered message. It returns a wrapped
// privacy.ErrConflict if the lease expired or the message was settled already.
func (q *Queue) Complete(ctx context.Context, d *privacy.Delivery) error {
	return q.settle(ctx, "complete", d, func(m *message) {
		q.queues[d.Queue] = slices.DeleteFunc(q.queues[d.Queue], func(x *message) bool { return x == m })
	})
}

// Retry releases a delivered message to become visible again after delay. It
// returns a wrapped privacy.ErrConflict if the lease was lost.
func (q *Queue) Retry(ctx context.Context, d *privacy.Delivery, delay time.Duration) error {
	return q.settle(ctx, "retry", d, func(m *message) {
		m.lease, m.visibleAt = "", q.opts.Now().Add(max(delay, 0))
	})
}

// Extend renews a delivered message's lease to end lease from now, keeping it
// invisible while its consumer still works on it. It returns a wrapped
// privacy.ErrConflict if the lease was lost. lease must be positive.
func (q *Queue) Extend(ctx context.Context, d *privacy.Delivery, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("extend lease: lease %s is not positive", lease)
	}
	return q.settle(ctx, "extend lease of", d, func(m *message) { m.visibleAt = q.opts.Now().Add(lease) })
}

// DeadLetter moves a delivered message to the queue's dead-letter list with
// reason. It returns a wrapped privacy.ErrConflict if the lease was lost.
func (q *Queue) DeadLetter(ctx context.Context, d *privacy.Delivery, reason string) error {
	return q.settle(ctx, "dead-letter", d, func(m *message) { m.kill(q.opts.Now(), reason) })
}

func (q *Queue) settle(ctx context.Context, op string, d *privacy.Delivery, apply func(*message)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s message: %w", op, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	m, err := q.leased(d)
	if err != nil {
		return fmt.Errorf("%s message %s: %w", op, deliveryID(d), err)
	}
	apply(m)
	return nil
}

func deliveryID(d *privacy.Delivery) string {
	if d == nil {
		return ""
	}
	return d.ID
}

// DeadLetters returns up to limit (default 100) dead letters of queue, oldest
// first.
func (q *Queue) DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters of %s: %w", queue, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []DeadLetter
	for _, m := range q.queues[queue] {
		if m.dead {
			out = append(out, DeadLetter{Queue: queue, ID: m.id, Body: bytes.Clone(m.body), DeliveryCount: m.count,
				EnqueuedAt: m.enqueuedAt, DeadAt: m.deadAt, Reason: m.reason, ContentType: m.contentType,
				Properties: cloneProperties(m.properties)})
		}
	}
	slices.SortStableFunc(out, func(a, b DeadLetter) int { return a.DeadAt.Compare(b.DeadAt) })
	return out[:min(len(out), pageSize(limit, 100))], nil
}

// Requeue moves the dead letters of queue with the given ids (all of them when
// none is given) back to the queue, visible now with a fresh delivery count, and
// returns how many moved. Ids that are not dead letters are ignored, so a
// repeated requeue is harmless.
func (q *Queue) Requeue(ctx context.Context, queue string, ids ...string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("requeue dead letters of %s: %w", queue, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now, n := q.opts.Now(), 0
	for _, m := range q.queues[queue] {
		if m.dead && (len(ids) == 0 || slices.Contains(ids, m.id)) {
			m.dead, m.deadAt, m.reason, m.count, m.visibleAt = false, time.Time{}, "", 0, now
			n++
		}
	}
	return n, nil
}

// Counts returns a snapshot of queue.
func (q *Queue) Counts(ctx context.Context, queue string) (Counts, error) {
	if err := ctx.Err(); err != nil {
		return Counts{}, fmt.Errorf("count messages of %s: %w", queue, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	var c Counts
	for _, m := range q.queues[queue] {
		switch {
		case m.dead:
			c.Dead++
		case m.visibleAt.After(now) && m.lease != "":
			c.Leased++
		case m.visibleAt.After(now):
			c.Delayed++
		default:
			c.Visible++
		}
	}
	return c, nil
}
