package sqlite

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// TestPurgeDeadLetterBodies: the dead letters enqueued before the cutoff
// lose their body and properties and keep their row (id, times, reason); a
// younger one, a live message and another queue's are untouched; a repeated
// purge counts nothing twice, and an emptied dead letter is never requeued.
func TestPurgeDeadLetterBodies(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	db := openTest(t, Options{Now: clock, QueueMaxDeliveries: 1})
	q, ctx := db.Queue(), t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	deadLetter := func(queue, id string) {
		t.Helper()
		must(q.Publish(ctx, queue, privacy.OutMessage{ID: id, Body: []byte(`{"email":"ada@example.com"}`), Properties: map[string]string{"sig": "x"}}))
		d, err := q.Receive(ctx, queue, time.Minute)
		must(err)
		must(q.DeadLetter(ctx, d, "schema"))
	}
	deadLetter("work", "old-1")
	deadLetter("work", "old-2")
	deadLetter("other", "old-other")
	advance(10 * 24 * time.Hour)
	cutoff := now
	deadLetter("work", "young")
	must(q.Publish(ctx, "work", privacy.OutMessage{ID: "live", Body: []byte(`{}`)}))

	n, err := q.PurgeDeadLetterBodies(ctx, "work", cutoff)
	must(err)
	if n != 2 {
		t.Fatalf("purged %d bodies, want 2", n)
	}
	if n, err := q.PurgeDeadLetterBodies(ctx, "work", cutoff); err != nil || n != 0 {
		t.Fatalf("purged again: %d, %v; want 0", n, err)
	}
	type row struct {
		ID, Reason string
		Body       string
		Props      int
	}
	rows := func(queue string) []row {
		ds, err := q.DeadLetters(ctx, queue, 100)
		must(err)
		var out []row
		for _, d := range ds {
			out = append(out, row{d.ID, d.Reason, string(d.Body), len(d.Properties)})
		}
		return out
	}
	want := []row{{"old-1", "schema", "", 0}, {"old-2", "schema", "", 0}, {"young", "schema", `{"email":"ada@example.com"}`, 1}}
	if diff := cmp.Diff(want, rows("work")); diff != "" {
		t.Errorf("dead letters of work (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]row{{"old-other", "schema", `{"email":"ada@example.com"}`, 1}}, rows("other")); diff != "" {
		t.Errorf("dead letters of another queue (-want +got):\n%s", diff)
	}
	moved, err := q.Requeue(ctx, "work")
	must(err)
	if moved != 1 {
		t.Fatalf("requeued %d, want only the young one with its body", moved)
	}
}
