package servicebus

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/go-cmp/cmp"
)

// TestPurgeDeadLettersOlderThanTheKeep: dead letters enqueued before the
// cutoff are completed; at the first younger one (or one without an
// enqueued time) it and the rest of its batch are abandoned and the purge
// stops; an empty dead-letter queue ends it.
func TestPurgeDeadLettersOlderThanTheKeep(t *testing.T) {
	t.Parallel()
	cutoff := time.Date(2030, 1, 17, 2, 0, 0, 0, time.UTC)
	msg := func(id string, enq *time.Time) *azservicebus.ReceivedMessage {
		return &azservicebus.ReceivedMessage{MessageID: id, Body: []byte(`{}`), EnqueuedTime: enq}
	}
	at := func(d time.Duration) *time.Time { v := cutoff.Add(d); return &v }
	cases := []struct {
		name          string
		batches       [][]*azservicebus.ReceivedMessage
		wantN         int
		wantCompleted []string
		wantAbandoned []string
	}{
		{"all old, two batches", [][]*azservicebus.ReceivedMessage{{msg("a", at(-72*time.Hour)), msg("b", at(-time.Second))}, {msg("c", at(-time.Hour))}},
			3, []string{"a", "b", "c"}, nil},
		{"stops at the first younger one", [][]*azservicebus.ReceivedMessage{{msg("a", at(-time.Hour)), msg("b", at(0)), msg("c", at(-time.Hour))},
			{msg("d", at(-time.Hour))}}, 1, []string{"a"}, []string{"b", "c"}},
		{"no enqueued time: kept", [][]*azservicebus.ReceivedMessage{{msg("a", nil), msg("b", at(-time.Hour))}}, 0, nil, []string{"a", "b"}},
		{"empty dead-letter queue", nil, 0, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeReceiver{batches: c.batches}
			k := &DeadLetterKeeper{open: func(q string) (receiver, error) {
				if q != "privops-inbound" {
					t.Errorf("opened %s", q)
				}
				return f, nil
			}}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			n, err := k.PurgeDeadLetterBodies(ctx, "privops-inbound", cutoff)
			if err != nil || n != c.wantN {
				t.Fatalf("purge = %d, %v; want %d", n, err, c.wantN)
			}
			if diff := cmp.Diff(c.wantCompleted, f.completed); diff != "" {
				t.Errorf("completed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.wantAbandoned, f.abandoned); diff != "" {
				t.Errorf("abandoned (-want +got):\n%s", diff)
			}
			if !f.closed {
				t.Error("receiver not closed")
			}
		})
	}
}
