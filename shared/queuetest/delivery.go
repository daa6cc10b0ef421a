package queuetest

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

func testPublishReceiveComplete(t *testing.T, f *fixture) {
	f.requireNothing(t, "empty queue")
	body := []byte(`{"specversion":"1.0","id":"m1"}`)
	published := f.clock.Now()
	f.publish(t, privacy.OutMessage{ID: "m1", Body: body})
	body[0] = 'X' // the queue keeps its own copy
	f.clock.Advance(time.Second)

	d := f.requireDelivery(t, time.Minute, "m1", 1)
	if string(d.Body) != `{"specversion":"1.0","id":"m1"}` {
		t.Fatalf("delivered body %q", d.Body)
	}
	if !d.EnqueuedAt.Equal(published) {
		t.Fatalf("enqueued at %s, want the publish time %s", d.EnqueuedAt, published)
	}
	f.requireNothing(t, "while the only message is leased")
	requireNoError(t, f.q.Complete(t.Context(), d), "complete")
	f.clock.Advance(time.Hour)
	f.requireNothing(t, "after complete and the lease time")
	requireConflict(t, f.q.Complete(t.Context(), d), "complete twice")
}

func testDedupe(t *testing.T, f *fixture) {
	f.publish(t, msg("m1", "first"))
	f.publish(t, msg("m1", "second"))
	f.publish(t, msg("m2", "a"), msg("m2", "b")) // duplicates in one batch
	d := f.requireDelivery(t, time.Minute, "m1", 1)
	if string(d.Body) != "first" {
		t.Fatalf("delivered body %q, want the first publish's", d.Body)
	}
	requireNoError(t, f.q.Complete(t.Context(), d), "complete")
	d = f.requireDelivery(t, time.Minute, "m2", 1)
	requireNoError(t, f.q.Complete(t.Context(), d), "complete")
	f.requireNothing(t, "after completing both")

	// Within the window, even after completion, the id is still a duplicate.
	f.clock.Advance(DedupeWindow - time.Second)
	f.publish(t, msg("m1", "third"))
	f.requireNothing(t, "republished within the window")

	f.clock.Advance(2 * time.Second)
	f.publish(t, msg("m1", "fourth"))
	d = f.requireDelivery(t, time.Minute, "m1", 1)
	if string(d.Body) != "fourth" {
		t.Fatalf("delivered body %q after the window, want the new publish's", d.Body)
	}
}

func testLeaseExpiry(t *testing.T, f *fixture) {
	const lease = 30 * time.Second
	f.publish(t, msg("m1", "x"))
	first := f.requireDelivery(t, lease, "m1", 1)
	f.clock.Advance(lease - time.Nanosecond)
	f.requireNothing(t, "just before the lease ends")
	f.clock.Advance(time.Nanosecond)
	second := f.requireDelivery(t, lease, "m1", 2)
	if second.Lease == first.Lease {
		t.Fatal("a redelivery kept the previous lease")
	}
	requireConflict(t, f.q.Complete(t.Context(), first), "complete with the lost lease")
	requireConflict(t, f.q.Retry(t.Context(), first, 0), "retry with the lost lease")
	requireConflict(t, f.q.DeadLetter(t.Context(), first, "late"), "dead-letter with the lost lease")
	requireNoError(t, f.q.Complete(t.Context(), second), "complete with the current lease")
	f.clock.Advance(time.Hour)
	f.requireNothing(t, "after complete")

	// A lease that ran out is lost even if nobody received the message since.
	f.publish(t, msg("m2", "y"))
	d := f.requireDelivery(t, lease, "m2", 1)
	f.clock.Advance(lease)
	requireConflict(t, f.q.Complete(t.Context(), d), "complete after the lease ran out")
	f.requireDelivery(t, lease, "m2", 2)
}

func testRetry(t *testing.T, f *fixture) {
	f.publish(t, msg("m1", "x"))
	d := f.requireDelivery(t, time.Minute, "m1", 1)
	requireNoError(t, f.q.Retry(t.Context(), d, 5*time.Minute), "retry")
	requireConflict(t, f.q.Complete(t.Context(), d), "complete after retry")
	f.requireNothing(t, "right after retry")
	f.clock.Advance(5*time.Minute - time.Nanosecond)
	f.requireNothing(t, "just before the retry delay ends")
	f.clock.Advance(time.Nanosecond)
	d = f.requireDelivery(t, time.Minute, "m1", 2)

	// A zero delay makes it visible at once.
	requireNoError(t, f.q.Retry(t.Context(), d, 0), "retry without delay")
	d = f.requireDelivery(t, time.Minute, "m1", 3)
	requireNoError(t, f.q.Complete(t.Context(), d), "complete")
}

func testScheduled(t *testing.T, f *fixture) {
	published := f.clock.Now()
	f.publish(t, privacy.OutMessage{ID: "later", Body: []byte("x"), NotBefore: published.Add(10 * time.Minute)})
	f.publish(t, privacy.OutMessage{ID: "past", Body: []byte("y"), NotBefore: published.Add(-time.Hour)})
	d := f.requireDelivery(t, time.Hour, "past", 1)
	requireNoError(t, f.q.Complete(t.Context(), d), "complete")
	f.requireNothing(t, "before the scheduled time")
	f.clock.Advance(10*time.Minute - time.Nanosecond)
	f.requireNothing(t, "just before the scheduled time")
	f.clock.Advance(time.Nanosecond)
	d = f.requireDelivery(t, time.Minute, "later", 1)
	if !d.EnqueuedAt.Equal(published) {
		t.Fatalf("scheduled message enqueued at %s, want the publish time %s", d.EnqueuedAt, published)
	}
}

func testDeadLetter(t *testing.T, f *fixture) {
	f.requireDeadLetters(t, f.name, nil)
	published := f.clock.Now()
	f.publish(t, msg("poison", "not an event"), msg("fine", "ok"))
	d := f.requireDelivery(t, time.Minute, "poison", 1)
	f.clock.Advance(time.Second)
	requireNoError(t, f.q.DeadLetter(t.Context(), d, "malformed-event"), "dead-letter")
	requireConflict(t, f.q.Complete(t.Context(), d), "complete a dead letter")
	f.clock.Advance(time.Hour)
	ok := f.requireDelivery(t, time.Minute, "fine", 1)
	requireNoError(t, f.q.Complete(t.Context(), ok), "complete")
	f.requireNothing(t, "after dead-lettering")
	f.requireDeadLetters(t, f.name, []DeadLetter{{ID: "poison", Body: []byte("not an event"), DeliveryCount: 1,
		EnqueuedAt: published, DeadAt: published.Add(time.Second), Reason: "malformed-event"}})
}

func testMaxDeliveries(t *testing.T, f *fixture) {
	const lease = time.Minute
	published := f.clock.Now()
	f.publish(t, msg("m1", "x"))
	for n := 1; n <= MaxDeliveries; n++ {
		d := f.requireDelivery(t, lease, "m1", n)
		if n%2 == 0 {
			requireNoError(t, f.q.Retry(t.Context(), d, 0), "retry")
		} else {
			f.clock.Advance(lease) // the handler crashed: the lease runs out
		}
	}
	deadAt := f.clock.Now()
	f.requireNothing(t, fmt.Sprintf("after %d deliveries", MaxDeliveries))
	f.requireDeadLetters(t, f.name, []DeadLetter{{ID: "m1", Body: []byte("x"), DeliveryCount: MaxDeliveries,
		EnqueuedAt: published, DeadAt: deadAt, Reason: ReasonMaxDeliveries}})
}

func testIndependentQueues(t *testing.T, f *fixture) {
	other, empty := f.name+"-other", f.name+"-empty"
	f.publish(t, msg("m1", "here"))
	f.publishTo(t, other, msg("m1", "there")) // the same id in another queue is another message
	if d := f.receiveFrom(t, empty, time.Minute); d != nil {
		t.Fatalf("an empty queue delivered %s", d.ID)
	}
	here := f.requireDelivery(t, time.Minute, "m1", 1)
	there := f.receiveFrom(t, other, time.Minute)
	if there == nil || there.ID != "m1" || string(there.Body) != "there" || there.Queue != other {
		t.Fatalf("other queue delivered %+v", there)
	}
	requireNoError(t, f.q.DeadLetter(t.Context(), here, "test"), "dead-letter")
	requireNoError(t, f.q.Complete(t.Context(), there), "complete in the other queue")
	f.requireDeadLetters(t, other, nil)
	if got, err := f.q.DeadLetters(t.Context(), f.name, 10); err != nil || len(got) != 1 {
		t.Fatalf("dead letters of the first queue: %d, %v", len(got), err)
	}
}

// testOrder checks delivery by visibility time, then by enqueue order.
func testOrder(t *testing.T, f *fixture) {
	t0 := f.clock.Now()
	f.publish(t, msg("m1", ""), msg("m2", ""))
	f.publish(t, msg("m3", ""), privacy.OutMessage{ID: "s", NotBefore: t0.Add(500 * time.Millisecond)})
	f.clock.Advance(time.Second)
	f.publish(t, msg("m4", ""))
	d := f.requireDelivery(t, time.Minute, "m1", 1)
	requireNoError(t, f.q.Retry(t.Context(), d, 0), "retry") // visible again at t0+1s, enqueued before m4
	var got []string
	for d := f.receive(t, time.Minute); d != nil; d = f.receive(t, time.Minute) {
		got = append(got, d.ID)
	}
	if want := "[m2 m3 s m1 m4]"; fmt.Sprint(got) != want {
		t.Fatalf("delivery order %v, want %s", got, want)
	}
}

// testConcurrentReceivers receives from many goroutines at once: no message is
// delivered twice under one lease, and none is missed.
func testConcurrentReceivers(t *testing.T, f *fixture) {
	const messages, receivers = 40, 8
	var msgs []privacy.OutMessage
	for i := range messages {
		msgs = append(msgs, msg(fmt.Sprintf("m%02d", i), fmt.Sprint(i)))
	}
	f.publish(t, msgs...)
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range receivers {
		wg.Go(func() {
			for {
				d, err := f.q.Receive(t.Context(), f.name, time.Hour)
				if err != nil {
					t.Errorf("receive: %v", err)
					return
				}
				if d == nil {
					return
				}
				mu.Lock()
				got[d.ID]++
				mu.Unlock()
				if err := f.q.Complete(t.Context(), d); err != nil {
					t.Errorf("complete %s: %v", d.ID, err)
				}
			}
		})
	}
	wg.Wait()
	if len(got) != messages {
		t.Errorf("%d distinct messages delivered, want %d", len(got), messages)
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
}

// testContentTypeAndProperties: a message's content type and application
// properties arrive as published, on every delivery, in the dead-letter list
// and after a requeue; a message without them has none.
func testContentTypeAndProperties(t *testing.T, f *fixture) {
	const contentType = "application/cloudevents+json; charset=utf-8"
	props := map[string]string{"signature": "t=1893463200,v1=3b1f", "empty": "", "schlüssel": `{"json":"looking"} \`}
	published := f.clock.Now()
	sent := privacy.OutMessage{ID: "signed", Body: []byte("{}"), ContentType: contentType, Properties: maps.Clone(props)}
	f.publish(t, sent, msg("plain", "x"))
	sent.Properties["signature"] = "changed" // the queue keeps its own copy

	requireCarries := func(t *testing.T, d *privacy.Delivery, when string) {
		t.Helper()
		if d.ContentType != contentType {
			t.Fatalf("%s: content type %q, want %q", when, d.ContentType, contentType)
		}
		if diff := cmp.Diff(props, d.Properties); diff != "" {
			t.Fatalf("%s: properties mismatch (-want +got):\n%s", when, diff)
		}
	}
	d := f.requireDelivery(t, time.Minute, "signed", 1)
	requireCarries(t, d, "first delivery")
	d.Properties["signature"] = "tampered" // nor does a delivery share it
	plain := f.requireDelivery(t, time.Minute, "plain", 1)
	if plain.ContentType != "" || len(plain.Properties) != 0 {
		t.Fatalf("a message published without them has content type %q and properties %v", plain.ContentType, plain.Properties)
	}
	requireNoError(t, f.q.Complete(t.Context(), plain), "complete")

	requireNoError(t, f.q.Retry(t.Context(), d, 0), "retry")
	d = f.requireDelivery(t, time.Minute, "signed", 2)
	requireCarries(t, d, "redelivery")

	f.clock.Advance(time.Second)
	requireNoError(t, f.q.DeadLetter(t.Context(), d, "bad-signature"), "dead-letter")
	f.requireDeadLetters(t, f.name, []DeadLetter{{ID: "signed", Body: []byte("{}"), DeliveryCount: 2,
		EnqueuedAt: published, DeadAt: published.Add(time.Second), Reason: "bad-signature",
		ContentType: contentType, Properties: props}})

	n, err := f.q.Requeue(t.Context(), f.name, "signed")
	requireNoError(t, err, "requeue")
	if n != 1 {
		t.Fatalf("requeued %d messages, want 1", n)
	}
	d = f.requireDelivery(t, time.Minute, "signed", 1)
	requireCarries(t, d, "delivery after requeue")
	requireNoError(t, f.q.Complete(t.Context(), d), "complete")
	f.requireDeadLetters(t, f.name, nil)
}
