package servicebus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// DeadLetterKeeper removes dead letters past their keep from the Service Bus
// dead-letter queues (the operator-level dead-letter sweep, DEADLETTER_KEEP,
// a step of the nightly retention timer). Service Bus keeps no row once a
// message is completed, so nothing stays of it but the count the sweep
// reports.
type DeadLetterKeeper struct {
	Client *azservicebus.Client
	// open opens a peek-lock receiver on a queue's dead-letter sub-queue
	// (tests replace it; default: Client.NewReceiverForQueue with SubQueue
	// SubQueueDeadLetter).
	open func(queue string) (receiver, error)
}

// PurgeDeadLetterBodies completes (removes) the dead letters of queue
// enqueued before before, and returns how many. The dead-letter queue is read
// in its order (dead-lettering order, which follows enqueueing closely): at the
// first message enqueued at or after before, or without an enqueued time, it
// abandons that message and the rest of its batch and stops, so nothing
// younger than the keep is removed; a message is never read twice in one
// call. It also stops when no dead letter arrives for a few seconds.
func (k *DeadLetterKeeper) PurgeDeadLetterBodies(ctx context.Context, queue string, before time.Time) (int, error) {
	open := k.open
	if open == nil {
		open = func(queue string) (receiver, error) {
			return k.Client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
		}
	}
	r, err := open(queue)
	if err != nil {
		return 0, fmt.Errorf("open the dead-letter queue of %s: %w", queue, translate(err))
	}
	return purgeOlder(ctx, r, queue, before)
}

func purgeOlder(ctx context.Context, r receiver, queue string, before time.Time) (int, error) {
	defer func() { _ = r.Close(context.WithoutCancel(ctx)) }()
	n := 0
	for {
		wctx, cancel := context.WithTimeout(ctx, idleWait)
		msgs, err := r.ReceiveMessages(wctx, 50, nil)
		cancel()
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return n, fmt.Errorf("receive dead letters of %s: %w", queue, translate(err))
		}
		if len(msgs) == 0 {
			return n, nil
		}
		for i, m := range msgs {
			if m.EnqueuedTime == nil || !m.EnqueuedTime.Before(before) {
				// Younger than the keep: leave it and what follows.
				for _, rest := range msgs[i:] {
					if err := r.AbandonMessage(ctx, rest, nil); err != nil {
						return n, fmt.Errorf("abandon dead letter of %s: %w", queue, translate(err))
					}
				}
				return n, nil
			}
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				return n, fmt.Errorf("complete dead letter of %s: %w", queue, translate(err))
			}
			n++
		}
	}
}
