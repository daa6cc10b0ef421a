package servicebus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
)

// fakeReceiver hands out its batches in order, then blocks until the
// receive's context ends, as an empty dead-letter queue does.
type fakeReceiver struct {
	mu        sync.Mutex
	batches   [][]*azservicebus.ReceivedMessage
	completed []string
	abandoned []string
	closed    bool
}

func (f *fakeReceiver) ReceiveMessages(ctx context.Context, _ int, _ *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	f.mu.Lock()
	if len(f.batches) > 0 {
		b := f.batches[0]
		f.batches = f.batches[1:]
		f.mu.Unlock()
		return b, nil
	}
	f.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (f *fakeReceiver) CompleteMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.CompleteMessageOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed = append(f.completed, m.MessageID)
	return nil
}

func (f *fakeReceiver) AbandonMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.AbandonMessageOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.abandoned = append(f.abandoned, m.MessageID)
	return nil
}

func (f *fakeReceiver) Close(context.Context) error { f.closed = true; return nil }

func TestDrainDeadLetters(t *testing.T) {
	t.Parallel()
	enq := time.Date(2030, 1, 31, 9, 58, 0, 0, time.FixedZone("CET", 3600))
	ct := "application/cloudevents+json"
	msg := func(id string) *azservicebus.ReceivedMessage {
		return &azservicebus.ReceivedMessage{MessageID: id, Body: []byte(`{"id":"` + id + `"}`), DeliveryCount: 10,
			EnqueuedTime: &enq, ContentType: &ct, ApplicationProperties: map[string]any{"privops-signature": "t=1,k=k-1,v1=ab", "n": int64(3)}}
	}
	r := &fakeReceiver{batches: [][]*azservicebus.ReceivedMessage{{msg("a"), msg("bad")}, {msg("c")}}}
	var got []trigger.Message
	n, err := drain(t.Context(), r, "privops-inbound", func(_ context.Context, m trigger.Message) error {
		got = append(got, m)
		if m.ID == "bad" {
			return errors.New("still failing")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Drained{Handled: 2, Failed: 1}, n); d != "" {
		t.Errorf("drained (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a", "c"}, r.completed); d != "" {
		t.Errorf("completed (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"bad"}, r.abandoned); d != "" {
		t.Errorf("abandoned (-want +got):\n%s", d)
	}
	if !r.closed {
		t.Error("the receiver was not closed")
	}
	want := trigger.Message{ID: "a", Body: []byte(`{"id":"a"}`), DeliveryCount: 10, EnqueuedAt: enq.UTC(), Queue: "privops-inbound",
		ContentType: ct, Properties: map[string]string{"privops-signature": "t=1,k=k-1,v1=ab", "n": "3"}}
	if d := cmp.Diff(want, got[0]); d != "" {
		t.Errorf("message handed to the function (-want +got):\n%s", d)
	}
}

func TestDrainStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := drain(ctx, &fakeReceiver{}, "q", func(context.Context, trigger.Message) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("drain with a cancelled context = %v, want context.Canceled", err)
	}
}
