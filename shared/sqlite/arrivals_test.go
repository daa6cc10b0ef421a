package sqlite

import (
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// A committed publish, and a requeue that moved a dead letter, signal the
// queue's arrivals once; a failed publish, another queue's publish and a
// requeue that moved nothing do not.
func TestPublishSignalsArrivals(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q := openTest(t, Options{}).Queue()
	work, other := q.Arrivals("work"), q.Arrivals("other")
	if q.Arrivals("work") != work {
		t.Fatal("Arrivals returned another channel for the same queue")
	}
	signalled := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	if err := q.Publish(ctx, "work", privacy.OutMessage{ID: "a", Body: []byte("{}")}, privacy.OutMessage{ID: "b", Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if !signalled(work) {
		t.Error("no arrival after a publish to work")
	}
	if signalled(work) {
		t.Error("two signals for one publish: the channel must hold at most one")
	}
	if signalled(other) {
		t.Error("a publish to work signalled other")
	}
	if err := q.Publish(ctx, "work", privacy.OutMessage{Body: []byte("{}")}); err == nil {
		t.Fatal("a message without an id was published")
	}
	if signalled(work) {
		t.Error("a refused publish signalled an arrival")
	}
	if n, err := q.Requeue(ctx, "work"); err != nil || n != 0 {
		t.Fatalf("Requeue with no dead letters = %d, %v", n, err)
	}
	if signalled(work) {
		t.Error("a requeue that moved nothing signalled an arrival")
	}
	d, err := q.Receive(ctx, "work", time.Minute)
	if err != nil || d == nil {
		t.Fatalf("Receive = %v, %v", d, err)
	}
	if err := q.DeadLetter(ctx, d, "test"); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Requeue(ctx, "work"); err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1 moved", n, err)
	}
	if !signalled(work) {
		t.Error("no arrival after a requeue that moved a dead letter")
	}
}
