package servicebus

import (
	"context"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// fakeOverhead is what the fake batch charges per message besides its id
// and body, standing in for the AMQP framing.
const fakeOverhead = 10

// fakeBatch sizes messages as len(id) + len(body) + the lengths of their
// application properties' names and values + fakeOverhead against maxBytes,
// like the SDK's batch does with the marshalled message.
type fakeBatch struct {
	maxBytes int
	size     int
	msgs     []*azservicebus.Message
}

func (b *fakeBatch) AddMessage(m *azservicebus.Message, _ *azservicebus.AddMessageOptions) error {
	n := len(*m.MessageID) + len(m.Body) + fakeOverhead
	for k, v := range m.ApplicationProperties {
		n += len(k) + len(v.(string))
	}
	if b.size+n > b.maxBytes {
		return azservicebus.ErrMessageTooLarge
	}
	b.size += n
	b.msgs = append(b.msgs, m)
	return nil
}

func (b *fakeBatch) NumMessages() int32 { return int32(len(b.msgs)) }

// sentMessage is what a test checks of a sent message.
type sentMessage struct {
	ID          string
	ContentType string
	Body        string
	At          time.Time      // ScheduledEnqueueTime, zero if unset
	Properties  map[string]any // ApplicationProperties
}

// fakeConfig is a fake sender's batch limit and faults.
type fakeConfig struct {
	maxBytes    int
	newBatchErr func() error      // nil: succeed
	sendErr     func(n int) error // the n-th send (from 1); nil: succeed
	closeErr    func() error      // nil: succeed
}

// fakeSender is a behavioural fake of one queue's sender that records what it
// sends; its function fields inject faults.
type fakeSender struct {
	queue string
	fakeConfig

	mu     sync.Mutex
	sends  int
	sent   [][]sentMessage // one slice a batch
	closed int
}

func (s *fakeSender) NewMessageBatch(context.Context) (batch, error) {
	if s.newBatchErr != nil {
		if err := s.newBatchErr(); err != nil {
			return nil, err
		}
	}
	return &fakeBatch{maxBytes: s.maxBytes}, nil
}

func (s *fakeSender) SendMessageBatch(_ context.Context, b batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	if s.sendErr != nil {
		if err := s.sendErr(s.sends); err != nil {
			return err
		}
	}
	var got []sentMessage
	for _, m := range b.(*fakeBatch).msgs {
		sm := sentMessage{ID: *m.MessageID, Body: string(m.Body), Properties: m.ApplicationProperties}
		if m.ContentType != nil {
			sm.ContentType = *m.ContentType
		}
		if m.ScheduledEnqueueTime != nil {
			sm.At = *m.ScheduledEnqueueTime
		}
		got = append(got, sm)
	}
	s.sent = append(s.sent, got)
	return nil
}

func (s *fakeSender) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	if s.closeErr != nil {
		return s.closeErr()
	}
	return nil
}

func (s *fakeSender) batches() [][]sentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

func (s *fakeSender) closeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// fakeSenders makes fakeSenders on demand and remembers every one it made,
// so a test can count senders per queue.
type fakeSenders struct {
	config fakeConfig // of each new sender

	mu   sync.Mutex
	made []*fakeSender
}

func (f *fakeSenders) newSender(queue string) (sender, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeSender{queue: queue, fakeConfig: f.config}
	f.made = append(f.made, s)
	return s, nil
}

func (f *fakeSenders) all() []*fakeSender {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*fakeSender(nil), f.made...)
}

// only returns the one sender made, failing if there is not exactly one.
func (f *fakeSenders) only() (*fakeSender, bool) {
	all := f.all()
	if len(all) != 1 {
		return nil, false
	}
	return all[0], true
}
