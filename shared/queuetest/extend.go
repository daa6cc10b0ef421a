package queuetest

import (
	"testing"
	"time"
)

// testExtend: Extend moves the end of a delivery's lease to lease from now, so
// a message whose consumer still works on it stays invisible past its first
// lease, and the delivery can still be settled.
func testExtend(t *testing.T, f *fixture) {
	const lease = 30 * time.Second
	f.publish(t, msg("m1", "x"))
	d := f.requireDelivery(t, lease, "m1", 1)
	f.clock.Advance(20 * time.Second)
	requireNoError(t, f.q.Extend(t.Context(), d, lease), "extend the lease")
	f.clock.Advance(20 * time.Second) // 40s after receive: past the first lease
	f.requireNothing(t, "after the first lease, extended")
	requireNoError(t, f.q.Extend(t.Context(), d, lease), "extend the lease again")
	f.clock.Advance(lease - time.Nanosecond)
	f.requireNothing(t, "just before the extended lease ends")
	requireNoError(t, f.q.Complete(t.Context(), d), "complete after extending")
	f.clock.Advance(time.Hour)
	f.requireNothing(t, "after complete")

	// A retry after an extend releases the message as usual.
	f.publish(t, msg("m2", "y"))
	d = f.requireDelivery(t, lease, "m2", 1)
	requireNoError(t, f.q.Extend(t.Context(), d, time.Hour), "extend the lease of m2")
	requireNoError(t, f.q.Retry(t.Context(), d, 0), "retry after extending")
	f.requireDelivery(t, lease, "m2", 2)
}

// testExtendLost: a lease that ran out, was taken by a redelivery or was
// settled cannot be extended, and a failed extend changes nothing.
func testExtendLost(t *testing.T, f *fixture) {
	const lease = 30 * time.Second
	f.publish(t, msg("m1", "x"))
	first := f.requireDelivery(t, lease, "m1", 1)
	f.clock.Advance(lease)
	requireConflict(t, f.q.Extend(t.Context(), first, lease), "extend after the lease ran out")
	second := f.requireDelivery(t, lease, "m1", 2)
	requireConflict(t, f.q.Extend(t.Context(), first, time.Hour), "extend with the stale lease")
	f.clock.Advance(lease)
	third := f.requireDelivery(t, lease, "m1", 3) // the stale extend did not hold it
	requireConflict(t, f.q.Extend(t.Context(), second, lease), "extend a lease taken by a redelivery")
	requireNoError(t, f.q.Complete(t.Context(), third), "complete with the current lease")
	requireConflict(t, f.q.Extend(t.Context(), third, lease), "extend a completed delivery")
	f.clock.Advance(time.Hour)
	f.requireNothing(t, "after complete")
}
