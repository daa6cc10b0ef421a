package servicebus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/privops/privops/shared/trigger"
)

// receiver is the part of *azservicebus.Receiver a dead-letter drain uses.
type receiver interface {
	ReceiveMessages(ctx context.Context, maxMessages int, options *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.AbandonMessageOptions) error
	Close(ctx context.Context) error
}

var _ receiver = (*azservicebus.Receiver)(nil)

// idleWait is how long a drain waits for the next dead letter before it
// decides the dead-letter queue is empty.
const idleWait = 5 * time.Second

// Drained counts what a drain did.
type Drained struct {
	Handled, Failed int
}

// DrainDeadLetters receives the dead letters of queue (peek-lock) and hands
// each to fn as the trigger would, with its original enqueued time: one that
// fn handles (nil) is completed, removed from the dead-letter queue; one it
// fails is abandoned, left there for the next drain. It stops when no dead
// letter arrives for a few seconds, or when ctx ends. The operator's replay
// after a fix: a custom handler cannot receive from a dead-letter queue, so
// this runs from `privops replay`, not inside the Functions host.
func DrainDeadLetters(ctx context.Context, client *azservicebus.Client, queue string, fn trigger.QueueFunc) (Drained, error) {
	r, err := client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		return Drained{}, fmt.Errorf("open the dead-letter queue of %s: %w", queue, translate(err))
	}
	return drain(ctx, r, queue, fn)
}

func drain(ctx context.Context, r receiver, queue string, fn trigger.QueueFunc) (Drained, error) {
	defer func() { _ = r.Close(context.Background()) }()
	var n Drained
	for {
		wctx, cancel := context.WithTimeout(ctx, idleWait)
		msgs, err := r.ReceiveMessages(wctx, 10, nil)
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
		for _, m := range msgs {
			if err := fn(ctx, messageOf(queue, m)); err != nil {
				n.Failed++
				if aerr := r.AbandonMessage(ctx, m, nil); aerr != nil {
					return n, fmt.Errorf("abandon dead letter %s of %s: %w", m.MessageID, queue, translate(aerr))
				}
				continue
			}
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				return n, fmt.Errorf("complete dead letter %s of %s: %w", m.MessageID, queue, translate(err))
			}
			n.Handled++
		}
	}
}

// messageOf turns a received message into what a queue function receives.
func messageOf(queue string, m *azservicebus.ReceivedMessage) trigger.Message {
	out := trigger.Message{ID: m.MessageID, Body: m.Body, DeliveryCount: int(m.DeliveryCount), Queue: queue}
	if m.EnqueuedTime != nil {
		out.EnqueuedAt = m.EnqueuedTime.UTC()
	}
	if m.ContentType != nil {
		out.ContentType = *m.ContentType
	}
	if len(m.ApplicationProperties) > 0 {
		out.Properties = make(map[string]string, len(m.ApplicationProperties))
		for k, v := range m.ApplicationProperties {
			out.Properties[k] = fmt.Sprint(v)
		}
	}
	return out
}
