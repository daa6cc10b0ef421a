package standalone

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// completing is an in-memory queue that reports every Complete: its result
// and how long its context had left.
type completing struct {
	*inmem.Queue
	completed chan<- completion
}

type completion struct {
	err  error
	left time.Duration
}

func (c completing) Complete(ctx context.Context, d *privacy.Delivery) error {
	var left time.Duration
	if deadline, ok := ctx.Deadline(); ok {
		left = time.Until(deadline)
	}
	err := c.Queue.Complete(ctx, d)
	c.completed <- completion{err: err, left: left}
	return err
}

// A run longer than the lease keeps its message: the host renews the lease, so
// the message is neither cancelled at the lease nor delivered to another
// worker meanwhile, and is completed once. Before renewal the call's deadline
// was the lease, so it was cancelled and retried (TestExportOf200MBInParts on
// a loaded machine).
func TestQueueFunctionOutlivingItsLeaseRunsOnce(t *testing.T) {
	t.Parallel()
	const (
		lease = 600 * time.Millisecond
		run   = 2 * time.Second // over three leases; renewals every 200ms
	)
	q := inmem.NewQueue(inmem.QueueOptions{})
	if err := q.Publish(t.Context(), "notices", privacy.OutMessage{ID: "m-1", Body: []byte("{}")}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	completed := make(chan completion, 4)
	var calls atomic.Int32
	_, stop := start(t, &Host{
		Functions: []trigger.Function{{Name: "notify", Queue: func(ctx context.Context, m trigger.Message) error {
			calls.Add(1)
			select {
			case <-time.After(run):
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}}},
		Specs:    []funcjson.Spec{queueSpec("notify", "notices")},
		Receiver: completing{Queue: q, completed: completed},
		Lease:    lease,
		Workers:  4,
		Backoff:  func(int) time.Duration { return time.Hour }, // a cancelled run is not retried in time
	})
	c := wait(t, completed, "completion")
	if c.err != nil {
		t.Fatalf("complete: %v", c.err)
	}
	// The settlement's timeout starts after the run: it used to start before,
	// so a run longer than settleTimeout could never be completed.
	if c.left < settleTimeout-run/2 {
		t.Errorf("Complete had %s left, want about settleTimeout (%s) after a %s run", c.left, settleTimeout, run)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("function called %d times, want once", n)
	}
	counts, err := q.Counts(t.Context(), "notices")
	if err != nil {
		t.Fatalf("counts: %v", err)
	}
	if diff := cmp.Diff(inmem.Counts{}, counts); diff != "" {
		t.Errorf("queue after the run (-want +got):\n%s", diff)
	}
}

// A run that exceeds FunctionTimeout is cancelled and its message retried,
// however often its lease is renewed.
func TestQueueFunctionTimeoutCancelsAndRetries(t *testing.T) {
	t.Parallel()
	rcv, settled := recordingReceiver(t, delivery("m-1", 1))
	cause := make(chan error, 1)
	start(t, &Host{
		Functions: []trigger.Function{{Name: "notify", Queue: func(ctx context.Context, m trigger.Message) error {
			<-ctx.Done() // a function stuck past its timeout
			cause <- context.Cause(ctx)
			return ctx.Err()
		}}},
		Specs:           []funcjson.Spec{queueSpec("notify", "notices")},
		Receiver:        rcv,
		Lease:           30 * time.Millisecond, // renewed every 10ms meanwhile
		FunctionTimeout: 200 * time.Millisecond,
		Backoff:         func(int) time.Duration { return time.Second },
	})
	if err := wait(t, cause, "cancellation"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled with %v, want the deadline", err)
	}
	if diff := cmp.Diff(settlement{Op: "retry", ID: "m-1", Delay: time.Second}, wait(t, settled, "settlement")); diff != "" {
		t.Errorf("settlement (-want +got):\n%s", diff)
	}
}

// When a renewal finds the lease lost, the run is cancelled with that cause:
// its settlement would fail anyway and the message is delivered again.
func TestQueueLeaseLostCancelsTheRun(t *testing.T) {
	t.Parallel()
	rcv, settled := recordingReceiver(t, delivery("m-1", 1))
	var extends atomic.Int32
	rcv.ExtendFunc = func(_ context.Context, d *privacy.Delivery, lease time.Duration) error {
		if d.ID != "m-1" || lease != 60*time.Millisecond {
			t.Errorf("Extend(%s, %s), want m-1 and the host's lease", d.ID, lease)
		}
		if extends.Add(1) == 1 {
			return privacy.ErrUnavailable // a passing failure: tried again at the next tick
		}
		return privacy.ErrConflict
	}
	cause := make(chan error, 1)
	start(t, &Host{
		Functions: []trigger.Function{{Name: "notify", Queue: func(ctx context.Context, m trigger.Message) error {
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}}},
		Specs:    []funcjson.Spec{queueSpec("notify", "notices")},
		Receiver: rcv,
		Lease:    60 * time.Millisecond,
		Backoff:  func(int) time.Duration { return time.Second },
	})
	if err := wait(t, cause, "cancellation"); !errors.Is(err, privacy.ErrConflict) {
		t.Errorf("cancelled with %v, want the lost lease", err)
	}
	if n := extends.Load(); n != 2 {
		t.Errorf("Extend called %d times, want 2 (none after the lease was lost)", n)
	}
	if diff := cmp.Diff(settlement{Op: "retry", ID: "m-1", Delay: time.Second}, wait(t, settled, "settlement")); diff != "" {
		t.Errorf("settlement (-want +got):\n%s", diff)
	}
}
