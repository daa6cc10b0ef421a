package servicebus

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// sender is what Publisher uses of an *azservicebus.Sender (one queue). The
// SDK's NewMessageBatch returns a concrete *azservicebus.MessageBatch that
// only the SDK can size, so the seam returns a batch interface instead and
// sdkSender adapts the real sender.
type sender interface {
	// NewMessageBatch returns an empty batch sized to the link's limit.
	NewMessageBatch(ctx context.Context) (batch, error)
	// SendMessageBatch sends every message of b in one transfer.
	SendMessageBatch(ctx context.Context, b batch) error
	// Close closes the sender's link.
	Close(ctx context.Context) error
}

// batch is what Publisher uses of an *azservicebus.MessageBatch.
type batch interface {
	// AddMessage adds m, or returns azservicebus.ErrMessageTooLarge when m
	// does not fit in what is left of the batch.
	AddMessage(m *azservicebus.Message, options *azservicebus.AddMessageOptions) error
	// NumMessages is the number of messages added.
	NumMessages() int32
}

var _ batch = (*azservicebus.MessageBatch)(nil)

// sdkSender adapts an *azservicebus.Sender to sender.
type sdkSender struct{ s *azservicebus.Sender }

func (a sdkSender) NewMessageBatch(ctx context.Context) (batch, error) {
	b, err := a.s.NewMessageBatch(ctx, nil)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return b, nil
}

func (a sdkSender) SendMessageBatch(ctx context.Context, b batch) error {
	mb, ok := b.(*azservicebus.MessageBatch)
	if !ok {
		return fmt.Errorf("send batch: a %T was not made by the SDK sender", b)
	}
	return a.s.SendMessageBatch(ctx, mb, nil)
}

func (a sdkSender) Close(ctx context.Context) error { return a.s.Close(ctx) }
