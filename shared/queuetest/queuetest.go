// Package queuetest is the conformance suite of the built-in queue: the
// privacy.Publisher and privacy.Receiver ports plus the operator's dead-letter
// view. Each adapter's tests call Run with a constructor that takes the suite's
// fake clock; the in-memory and SQLite queues run it always.
//
// The suite uses queue names unique to each run, so it can share a backend.
package queuetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/privops/privops/shared/privacy"
)

// The configuration the suite expects of the queue newQueue returns.
const (
	// MaxDeliveries is the maximum delivery count: the delivery after it
	// dead-letters the message instead.
	MaxDeliveries = 5
	// DedupeWindow is how long a published id suppresses republishing.
	DedupeWindow = 10 * time.Minute
)

// ReasonMaxDeliveries is the dead-letter reason of a message delivered
// MaxDeliveries times without being completed.
const ReasonMaxDeliveries = "max-delivery-count-exceeded"

// Queue is what the suite exercises. An adapter whose dead-letter listing has
// its own element type wraps it in its test to return DeadLetter.
type Queue interface {
	privacy.Publisher
	privacy.Receiver
	// DeadLetters returns up to limit dead letters of queue, oldest first.
	DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error)
	// Requeue moves the dead letters of queue with the given ids (all when
	// none is given) back to the queue, visible now with a fresh delivery
	// count, and returns how many moved.
	Requeue(ctx context.Context, queue string, ids ...string) (int, error)
}

// DeadLetter is the suite's view of a dead-lettered message.
type DeadLetter struct {
	ID            string
	Body          []byte
	DeliveryCount int
	EnqueuedAt    time.Time
	DeadAt        time.Time
	Reason        string
	ContentType   string
	Properties    map[string]string
}

// Run runs the suite. newQueue returns a queue configured with MaxDeliveries and
// DedupeWindow whose clock is now, and registers its own cleanup on tb.
func Run(t *testing.T, newQueue func(tb testing.TB, now func() time.Time) Queue) {
	tests := []struct {
		name string
		test func(t *testing.T, f *fixture)
	}{
		{"PublishReceiveComplete", testPublishReceiveComplete},
		{"Dedupe", testDedupe},
		{"LeaseExpiry", testLeaseExpiry},
		{"Extend", testExtend},
		{"ExtendLost", testExtendLost},
		{"RetryWithDelay", testRetry},
		{"ScheduledDelivery", testScheduled},
		{"DeadLetter", testDeadLetter},
		{"MaxDeliveries", testMaxDeliveries},
		{"IndependentQueues", testIndependentQueues},
		{"Order", testOrder},
		{"ConcurrentReceivers", testConcurrentReceivers},
		{"ContentTypeAndProperties", testContentTypeAndProperties},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{now: time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)}
			tt.test(t, &fixture{q: newQueue(t, c.Now), clock: c, name: "q-" + randomHex(t, 6)})
		})
	}
}

// clock is a fake clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the current fake time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is one subtest's queue, clock and queue name.
type fixture struct {
	q     Queue
	clock *clock
	name  string
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("random name: %v", err)
	}
	return hex.EncodeToString(b)
}

// publish publishes msgs to the fixture's queue.
func (f *fixture) publish(tb testing.TB, msgs ...privacy.OutMessage) {
	tb.Helper()
	f.publishTo(tb, f.name, msgs...)
}

func (f *fixture) publishTo(tb testing.TB, queue string, msgs ...privacy.OutMessage) {
	tb.Helper()
	if err := f.q.Publish(tb.Context(), queue, msgs...); err != nil {
		tb.Fatalf("publish: %v", err)
	}
}

// receive receives from the fixture's queue with lease and fails on error.
func (f *fixture) receive(tb testing.TB, lease time.Duration) *privacy.Delivery {
	tb.Helper()
	return f.receiveFrom(tb, f.name, lease)
}

func (f *fixture) receiveFrom(tb testing.TB, queue string, lease time.Duration) *privacy.Delivery {
	tb.Helper()
	d, err := f.q.Receive(tb.Context(), queue, lease)
	if err != nil {
		tb.Fatalf("receive: %v", err)
	}
	return d
}

// requireDelivery receives and fails unless the message id arrives with count.
func (f *fixture) requireDelivery(tb testing.TB, lease time.Duration, id string, count int) *privacy.Delivery {
	tb.Helper()
	d := f.receive(tb, lease)
	switch {
	case d == nil:
		tb.Fatalf("no delivery, want %s (delivery %d)", id, count)
	case d.ID != id || d.DeliveryCount != count:
		tb.Fatalf("delivered %s (delivery %d), want %s (delivery %d)", d.ID, d.DeliveryCount, id, count)
	case d.Lease == "" || d.Queue != f.name:
		tb.Fatalf("delivery of %s has lease %q and queue %q", id, d.Lease, d.Queue)
	}
	return d
}

// requireNothing fails if a message is visible.
func (f *fixture) requireNothing(tb testing.TB, when string) {
	tb.Helper()
	if d := f.receive(tb, time.Minute); d != nil {
		tb.Fatalf("%s: delivered %s (delivery %d), want nothing", when, d.ID, d.DeliveryCount)
	}
}

// requireNoError fails on err.
func requireNoError(tb testing.TB, err error, what string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// requireConflict fails unless err wraps privacy.ErrConflict.
func requireConflict(tb testing.TB, err error, what string) {
	tb.Helper()
	if !errors.Is(err, privacy.ErrConflict) {
		tb.Fatalf("%s: got error %v, want one wrapping privacy.ErrConflict", what, err)
	}
}

// requireDeadLetters fails unless the queue's dead letters are want.
func (f *fixture) requireDeadLetters(tb testing.TB, queue string, want []DeadLetter) {
	tb.Helper()
	got, err := f.q.DeadLetters(tb.Context(), queue, 100)
	requireNoError(tb, err, "list dead letters")
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		tb.Fatalf("dead letters of %s mismatch (-want +got):\n%s", queue, d)
	}
}

func msg(id, body string) privacy.OutMessage {
	return privacy.OutMessage{ID: id, Body: []byte(body)}
}
