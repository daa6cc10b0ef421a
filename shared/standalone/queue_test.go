package standalone

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

var enqueued = time.Date(2030, 1, 31, 1, 59, 58, 0, time.UTC)

func delivery(id string, count int) *privacy.Delivery {
	return &privacy.Delivery{Queue: "notices", ID: id, Body: []byte(`{"id":"` + id + `"}`), DeliveryCount: count, EnqueuedAt: enqueued, Lease: "lease-" + id}
}

func TestQueueSettlement(t *testing.T) {
	t.Parallel()
	fail := func(context.Context, trigger.Message) error { return errors.New("store unavailable") }
	tests := []struct {
		name       string
		delivery   *privacy.Delivery
		fn         trigger.QueueFunc
		want       settlement
		wantCalled bool
	}{
		{
			name: "success completes", delivery: delivery("m-1", 1),
			fn:   func(context.Context, trigger.Message) error { return nil },
			want: settlement{Op: "complete", ID: "m-1"}, wantCalled: true,
		},
		{
			name: "error retries with backoff", delivery: delivery("m-2", 3), fn: fail,
			want: settlement{Op: "retry", ID: "m-2", Delay: 3 * time.Hour}, wantCalled: true,
		},
		{
			name: "panic is an error", delivery: delivery("m-3", 1),
			fn:   func(context.Context, trigger.Message) error { panic("boom") },
			want: settlement{Op: "retry", ID: "m-3", Delay: time.Hour}, wantCalled: true,
		},
		{
			name: "error on the last delivery dead-letters", delivery: delivery("m-4", 5), fn: fail,
			want: settlement{Op: "deadletter", ID: "m-4", Reason: DeadLetterReason}, wantCalled: true,
		},
		{
			name: "a delivery past the maximum is not run", delivery: delivery("m-5", 6),
			fn:   func(context.Context, trigger.Message) error { return nil },
			want: settlement{Op: "deadletter", ID: "m-5", Reason: DeadLetterReason},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var called atomic.Bool
			got := make(chan trigger.Message, 1)
			rcv, settled := recordingReceiver(t, tc.delivery)
			start(t, &Host{
				Functions: []trigger.Function{{Name: "notify", Queue: func(ctx context.Context, m trigger.Message) error {
					called.Store(true)
					if inv, ok := trigger.InvocationFrom(ctx); !ok || inv.Function != "notify" || inv.ID == "" {
						t.Errorf("invocation in context = %+v, %v", inv, ok)
					}
					got <- m
					return tc.fn(ctx, m)
				}}},
				Specs:            []funcjson.Spec{queueSpec("notify", "notices")},
				Receiver:         rcv,
				MaxDeliveryCount: 5,
				Backoff:          func(n int) time.Duration { return time.Duration(n) * time.Hour },
			})
			if diff := cmp.Diff(tc.want, wait(t, settled, "settlement")); diff != "" {
				t.Errorf("settlement (-want +got):\n%s", diff)
			}
			if called.Load() != tc.wantCalled {
				t.Errorf("function called = %v, want %v", called.Load(), tc.wantCalled)
			}
			if tc.wantCalled {
				want := trigger.Message{ID: tc.delivery.ID, Body: tc.delivery.Body, DeliveryCount: tc.delivery.DeliveryCount, EnqueuedAt: enqueued, Queue: "notices"}
				if diff := cmp.Diff(want, <-got); diff != "" {
					t.Errorf("message (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestQueueKeepsPollingAfterReceiveErrors(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	done := make(chan string, 1)
	start(t, &Host{
		Functions: []trigger.Function{{Name: "notify", Queue: func(context.Context, trigger.Message) error { return nil }}},
		Specs:     []funcjson.Spec{queueSpec("notify", "notices")},
		Workers:   1,
		Receiver: &fakeReceiver{
			ReceiveFunc: func(_ context.Context, queue string, lease time.Duration) (*privacy.Delivery, error) {
				if queue != "notices" || lease != 2*time.Minute {
					t.Errorf("Receive(%q, %s), want notices and the host's lease", queue, lease)
				}
				switch calls.Add(1) {
				case 1, 2:
					return nil, privacy.ErrUnavailable
				case 3:
					return delivery("m-1", 1), nil
				}
				return nil, nil
			},
			CompleteFunc: func(_ context.Context, d *privacy.Delivery) error { done <- d.ID; return nil },
		},
		Lease: 2 * time.Minute,
	})
	if id := wait(t, done, "completion after receive errors"); id != "m-1" {
		t.Errorf("completed %q, want m-1", id)
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		count    int
		min, max time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second},
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{9, 128 * time.Second, 256 * time.Second},
		{10, 150 * time.Second, 5 * time.Minute},
		{64, 150 * time.Second, 5 * time.Minute},
	}
	for _, tc := range tests {
		for range 50 {
			if d := DefaultBackoff(tc.count); d < tc.min || d > tc.max {
				t.Fatalf("DefaultBackoff(%d) = %s, want within [%s, %s]", tc.count, d, tc.min, tc.max)
			}
		}
	}
}
