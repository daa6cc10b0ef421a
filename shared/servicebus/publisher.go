package servicebus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/privops/privops/shared/privacy"
)

var _ privacy.Publisher = (*Publisher)(nil)

// ContentType is the content type of a message whose OutMessage.ContentType
// is empty: the bodies are CloudEvents 1.0 envelopes in structured mode (JSON).
const ContentType = "application/cloudevents+json"

// maxIDLength is Service Bus's limit on a MessageId.
const maxIDLength = 128

// Publisher is privacy.Publisher over Service Bus queues. It keeps one sender
// per queue, made on the queue's first Publish, and is safe for concurrent use.
// Close closes the senders (not the client, which the caller owns).
type Publisher struct {
	newSender func(queue string) (sender, error)
	now       func() time.Time

	mu      sync.Mutex
	senders map[string]sender // by queue
	closed  bool
}

// New returns a Publisher that sends through client. The queues it publishes
// to must have duplicate detection enabled (see the package documentation).
func New(client *azservicebus.Client) *Publisher {
	return newPublisher(func(queue string) (sender, error) {
		s, err := client.NewSender(queue, nil)
		if err != nil {
			return nil, err
		}
		return sdkSender{s}, nil
	}, time.Now)
}

func newPublisher(newSender func(queue string) (sender, error), now func() time.Time) *Publisher {
	return &Publisher{newSender: newSender, now: now, senders: map[string]sender{}}
}

// Publish sends msgs to queue, each with MessageID = its ID, its ContentType
// (ContentType when empty) and its Properties as application properties
// (string values): the immediate ones in as few batches as fit, the ones whose
// NotBefore lies in the future scheduled for that time (in batches of one
// time each). Idempotent per message ID through the queue's duplicate
// detection; a second message with an ID already in msgs is skipped (the
// first wins). Every message needs an ID of at most 128 characters.
//
// Nothing is sent unless every message is valid and fits in a batch: a message
// too large for an empty batch is a permanent error (wrapping
// azservicebus.ErrMessageTooLarge) naming its ID and body size. The batches
// are sent in order; if one fails, the ones before it stay sent, and
// publishing msgs again is the remedy (duplicates are dropped). Errors wrap
// privacy.ErrUnavailable for a transient failure (a service time-out, a lost
// connection, throttling, a full queue, the context's deadline); others are
// wrapped as they are; ErrClosed after Close.
func (p *Publisher) Publish(ctx context.Context, queue string, msgs ...privacy.OutMessage) error {
	if queue == "" {
		return errors.New("publish: the queue name is empty")
	}
	if len(msgs) == 0 {
		return nil
	}
	groups, err := groupByTime(msgs, p.now())
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	s, err := p.sender(queue)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	batches, err := pack(ctx, s, groups)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	for i, b := range batches {
		if err := s.SendMessageBatch(ctx, b); err != nil {
			return fmt.Errorf("publish to %s: send batch %d of %d (%d messages): %w",
				queue, i+1, len(batches), b.NumMessages(), translate(err))
		}
	}
	return nil
}

// Close closes every sender, collecting their errors; Publish fails with
// ErrClosed afterwards. Call it after the last Publish has returned, before
// closing the client. A second Close does nothing.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	senders := p.senders
	p.senders, p.closed = nil, true
	p.mu.Unlock()

	var errs []error
	for _, queue := range slices.Sorted(maps.Keys(senders)) {
		if err := senders[queue].Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sender for %s: %w", queue, err))
		}
	}
	return errors.Join(errs...)
}

// sender returns queue's sender, making it on first use. Making one does not
// touch the network: the SDK opens the link on the first send.
func (p *Publisher) sender(queue string) (sender, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if s, ok := p.senders[queue]; ok {
		return s, nil
	}
	s, err := p.newSender(queue)
	if err != nil {
		return nil, fmt.Errorf("new sender: %w", translate(err))
	}
	p.senders[queue] = s
	return s, nil
}

// group is the messages of one call that share a delivery time.
type group struct {
	at   time.Time // zero: now
	msgs []*azservicebus.Message
}

// groupByTime validates msgs, drops repeated ids and groups the rest by
// delivery time, in the order each time first appears: a NotBefore after now
// is kept (as UTC), anything else means now.
func groupByTime(msgs []privacy.OutMessage, now time.Time) ([]group, error) {
	seen := make(map[string]bool, len(msgs))
	index := map[time.Time]int{} // by delivery time (UTC, no monotonic reading)
	var groups []group
	for i, m := range msgs {
		switch {
		case m.ID == "":
			return nil, fmt.Errorf("message %d has no id", i)
		case len(m.ID) > maxIDLength:
			return nil, fmt.Errorf("message %d has an id of %d bytes, over Service Bus's %d", i, len(m.ID), maxIDLength)
		case seen[m.ID]:
			continue
		}
		seen[m.ID] = true

		id, contentType := m.ID, m.ContentType
		if contentType == "" {
			contentType = ContentType
		}
		sm := &azservicebus.Message{MessageID: &id, ContentType: &contentType, Body: m.Body,
			ApplicationProperties: applicationProperties(m.Properties)}
		var at time.Time
		if m.NotBefore.After(now) {
			at = m.NotBefore.UTC().Round(0)
			sm.ScheduledEnqueueTime = &at
		}
		k, ok := index[at]
		if !ok {
			k = len(groups)
			index[at] = k
			groups = append(groups, group{at: at})
		}
		groups[k].msgs = append(groups[k].msgs, sm)
	}
	return groups, nil
}

// applicationProperties converts properties to the SDK's map, nil when there
// are none.
func applicationProperties(p map[string]string) map[string]any {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]any, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// pack fills batches from s with each group in turn, starting a batch when
// the current one is full and for each new delivery time (the SDK copies the
// first message's annotations, the scheduled time among them, onto the
// batch's envelope).
func pack(ctx context.Context, s sender, groups []group) ([]batch, error) {
	var batches []batch
	for _, g := range groups {
		var current batch
		for _, m := range g.msgs {
			if current != nil {
				err := current.AddMessage(m, nil)
				if err == nil {
					continue
				}
				if !errors.Is(err, azservicebus.ErrMessageTooLarge) {
					return nil, fmt.Errorf("add message %s to a batch: %w", *m.MessageID, err)
				}
			}
			b, err := s.NewMessageBatch(ctx)
			if err != nil {
				return nil, fmt.Errorf("new batch: %w", translate(err))
			}
			if err := b.AddMessage(m, nil); errors.Is(err, azservicebus.ErrMessageTooLarge) {
				return nil, fmt.Errorf("message %s has a body of %d bytes, too large for a message batch: %w",
					*m.MessageID, len(m.Body), azservicebus.ErrMessageTooLarge)
			} else if err != nil {
				return nil, fmt.Errorf("add message %s to a batch: %w", *m.MessageID, err)
			}
			current = b
			batches = append(batches, b)
		}
	}
	return batches, nil
}
