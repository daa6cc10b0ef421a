package standalone

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// An empty queue is polled by one worker at a time, and each poll waits at
// least half the poll interval: the idle cost does not grow with Workers.
func TestIdleQueueIsPolledByOneWorkerAtATime(t *testing.T) {
	t.Parallel()
	const poll = 20 * time.Millisecond
	var calls, inFlight, overlap atomic.Int32
	_, stop := start(t, &Host{
		Functions:    []trigger.Function{{Name: "notify", Queue: func(context.Context, trigger.Message) error { return nil }}},
		Specs:        []funcjson.Spec{queueSpec("notify", "notices")},
		Workers:      8,
		PollInterval: poll,
		Receiver: &fakeReceiver{ReceiveFunc: func(context.Context, string, time.Duration) (*privacy.Delivery, error) {
			calls.Add(1)
			if inFlight.Add(1) > 1 {
				overlap.Add(1)
			}
			time.Sleep(time.Millisecond) // long enough for workers polling on their own to meet
			inFlight.Add(-1)
			return nil, nil
		}},
	})
	began := time.Now()
	time.Sleep(400 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	elapsed := time.Since(began)
	if n := overlap.Load(); n != 0 {
		t.Errorf("%d receives overlapped another on the same queue, want none", n)
	}
	// Each empty receive is followed by a wait of at least poll/2.
	if n, most := calls.Load(), int32(elapsed/(poll/2))+2; n > most {
		t.Errorf("%d receives in %s, want at most %d (one worker polling every %s to %s)", n, elapsed, most, poll/2, poll)
	}
	if calls.Load() == 0 {
		t.Error("the idle queue was never polled")
	}
}

// In a burst, the worker that receives a message hands the polling turn on at
// once: every worker ends up handling a message at the same time.
func TestBurstKeepsEveryWorkerBusy(t *testing.T) {
	t.Parallel()
	const workers = 4
	var mu sync.Mutex
	next := 0
	var running atomic.Int32
	allBusy := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	start(t, &Host{
		Functions: []trigger.Function{{Name: "tasks", Queue: func(ctx context.Context, _ trigger.Message) error {
			if running.Add(1) == workers {
				once.Do(func() { close(allBusy) })
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}}},
		Specs:        []funcjson.Spec{queueSpec("tasks", "tasks")},
		Workers:      workers,
		PollInterval: time.Hour, // only a handed-on turn can start the others
		Receiver: &fakeReceiver{ReceiveFunc: func(context.Context, string, time.Duration) (*privacy.Delivery, error) {
			mu.Lock()
			defer mu.Unlock()
			if next == workers {
				return nil, nil
			}
			next++
			return delivery(fmt.Sprintf("m-%d", next), 1), nil
		}},
	})
	wait(t, allBusy, fmt.Sprintf("all %d workers handling a message at once", workers))
	close(release)
}

// arrivalsReceiver is a fakeReceiver whose publishers share the process.
type arrivalsReceiver struct {
	*fakeReceiver
	arrived chan struct{}
}

func (r arrivalsReceiver) Arrivals(queue string) <-chan struct{} { return r.arrived }

// With a receiver that signals arrivals, a message published in the process
// is received at once, not at the next poll.
func TestArrivalWakesThePollingWorker(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ready []*privacy.Delivery
	polled := make(chan struct{}, 1)
	done := make(chan string, 1)
	r := arrivalsReceiver{arrived: make(chan struct{}, 1), fakeReceiver: &fakeReceiver{
		ReceiveFunc: func(context.Context, string, time.Duration) (*privacy.Delivery, error) {
			mu.Lock()
			defer mu.Unlock()
			select {
			case polled <- struct{}{}:
			default:
			}
			if len(ready) == 0 {
				return nil, nil
			}
			d := ready[0]
			ready = ready[1:]
			return d, nil
		},
		CompleteFunc: func(_ context.Context, d *privacy.Delivery) error { done <- d.ID; return nil },
	}}
	start(t, &Host{
		Functions:    []trigger.Function{{Name: "notify", Queue: func(context.Context, trigger.Message) error { return nil }}},
		Specs:        []funcjson.Spec{queueSpec("notify", "notices")},
		Workers:      1,         // no second worker's first receive to find the message
		PollInterval: time.Hour, // without the signal, the message would wait 30 minutes at least
		Receiver:     r,
	})
	wait(t, polled, "the first, empty, receive")
	mu.Lock()
	ready = append(ready, delivery("m-1", 1))
	mu.Unlock()
	r.arrived <- struct{}{}
	if id := wait(t, done, "the published message's completion"); id != "m-1" {
		t.Errorf("completed %q, want m-1", id)
	}
}
