package servicebus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

var testNow = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// newTestPublisher returns a Publisher over fake senders configured by config,
// with the clock fixed at testNow.
func newTestPublisher(tb testing.TB, config fakeConfig) (*Publisher, *fakeSenders) {
	tb.Helper()
	f := &fakeSenders{config: config}
	p := newPublisher(f.newSender, func() time.Time { return testNow })
	tb.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, f
}

// msg is an immediate message whose body is 20 bytes.
func msg(id string) privacy.OutMessage {
	return privacy.OutMessage{ID: id, Body: []byte(fmt.Sprintf(`{"id":%-12q}`, id))}
}

func at(m privacy.OutMessage, t time.Time) privacy.OutMessage {
	m.NotBefore = t
	return m
}

// sent is what a sent msg(id) looks like, scheduled at t (zero: now).
func sent(id string, t time.Time) sentMessage {
	return sentMessage{ID: id, ContentType: ContentType, Body: string(msg(id).Body), At: t}
}

func TestPublish(t *testing.T) {
	t.Parallel()
	later, latest := testNow.Add(time.Hour), testNow.Add(2*time.Hour)
	cet := time.FixedZone("CET", 3600)
	// Each msg costs 2 (id) + 20 (body) + 10 = 32 bytes in the fake batch.
	const twoPerBatch, plenty = 70, 1 << 20
	tests := []struct {
		name     string
		maxBytes int
		msgs     []privacy.OutMessage
		want     [][]sentMessage
	}{
		{
			name:     "one message carries its id, content type and body",
			maxBytes: plenty,
			msgs:     []privacy.OutMessage{msg("m1")},
			want:     [][]sentMessage{{sent("m1", time.Time{})}},
		},
		{
			name:     "a message's own content type and properties travel, the default otherwise",
			maxBytes: plenty,
			msgs: []privacy.OutMessage{
				{ID: "signed", Body: []byte("{}"), ContentType: "application/json; charset=utf-8",
					Properties: map[string]string{"signature": "t=1893463200,v1=3b1f", "empty": ""}},
				msg("m2"),
				{ID: "typed", Body: []byte("x"), ContentType: "text/plain"},
				{ID: "props-only", Body: []byte("y"), Properties: map[string]string{"k": "v"}},
			},
			want: [][]sentMessage{{
				{ID: "signed", ContentType: "application/json; charset=utf-8", Body: "{}",
					Properties: map[string]any{"signature": "t=1893463200,v1=3b1f", "empty": ""}},
				sent("m2", time.Time{}),
				{ID: "typed", ContentType: "text/plain", Body: "x"},
				{ID: "props-only", ContentType: ContentType, Body: "y", Properties: map[string]any{"k": "v"}},
			}},
		},
		{
			name:     "properties count towards the batch size",
			maxBytes: 70, // two plain messages, or one with these properties
			msgs: []privacy.OutMessage{
				{ID: "m1", Body: msg("m1").Body, Properties: map[string]string{"signature": "0123456789abcdef0123"}},
				msg("m2"),
			},
			want: [][]sentMessage{
				{{ID: "m1", ContentType: ContentType, Body: string(msg("m1").Body),
					Properties: map[string]any{"signature": "0123456789abcdef0123"}}},
				{sent("m2", time.Time{})},
			},
		},
		{
			name:     "immediate messages share one batch while they fit",
			maxBytes: plenty,
			msgs:     []privacy.OutMessage{msg("m1"), msg("m2"), msg("m3")},
			want:     [][]sentMessage{{sent("m1", time.Time{}), sent("m2", time.Time{}), sent("m3", time.Time{})}},
		},
		{
			name:     "a full batch is sent and the next one started",
			maxBytes: twoPerBatch,
			msgs:     []privacy.OutMessage{msg("m1"), msg("m2"), msg("m3"), msg("m4"), msg("m5")},
			want: [][]sentMessage{
				{sent("m1", time.Time{}), sent("m2", time.Time{})},
				{sent("m3", time.Time{}), sent("m4", time.Time{})},
				{sent("m5", time.Time{})},
			},
		},
		{
			name:     "future messages are scheduled, one batch per delivery time",
			maxBytes: plenty,
			msgs: []privacy.OutMessage{
				msg("m1"), at(msg("m2"), later), msg("m3"), at(msg("m4"), latest), at(msg("m5"), later.In(cet)),
			},
			want: [][]sentMessage{
				{sent("m1", time.Time{}), sent("m3", time.Time{})},
				{sent("m2", later), sent("m5", later)},
				{sent("m4", latest)},
			},
		},
		{
			name:     "a NotBefore now or past means now",
			maxBytes: plenty,
			msgs:     []privacy.OutMessage{at(msg("m1"), testNow), at(msg("m2"), testNow.Add(-time.Minute)), msg("m3")},
			want:     [][]sentMessage{{sent("m1", time.Time{}), sent("m2", time.Time{}), sent("m3", time.Time{})}},
		},
		{
			name:     "scheduled batches split when full too",
			maxBytes: twoPerBatch,
			msgs:     []privacy.OutMessage{at(msg("m1"), later), at(msg("m2"), later), at(msg("m3"), later)},
			want:     [][]sentMessage{{sent("m1", later), sent("m2", later)}, {sent("m3", later)}},
		},
		{
			name:     "a repeated id is sent once, the first one wins",
			maxBytes: plenty,
			msgs: []privacy.OutMessage{
				msg("m1"), {ID: "m1", Body: []byte("a second body")}, at(msg("m2"), later), msg("m2"),
			},
			want: [][]sentMessage{{sent("m1", time.Time{})}, {sent("m2", later)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, f := newTestPublisher(t, fakeConfig{maxBytes: tt.maxBytes})
			if err := p.Publish(t.Context(), "tasks", tt.msgs...); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			s, ok := f.only()
			if !ok {
				t.Fatalf("made %d senders, want 1", len(f.all()))
			}
			if s.queue != "tasks" {
				t.Errorf("sender queue = %q, want tasks", s.queue)
			}
			if diff := cmp.Diff(tt.want, s.batches()); diff != "" {
				t.Errorf("sent batches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishScheduledTimeIsUTC(t *testing.T) {
	t.Parallel()
	p, f := newTestPublisher(t, fakeConfig{maxBytes: 1 << 20})
	when := testNow.Add(time.Hour).In(time.FixedZone("CET", 3600))
	if err := p.Publish(t.Context(), "tasks", at(msg("m1"), when)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	s, _ := f.only()
	got := s.batches()[0][0].At
	if got.Location() != time.UTC || !got.Equal(when) {
		t.Errorf("scheduled at %v, want %v in UTC", got, when)
	}
}

func TestPublishNothing(t *testing.T) {
	t.Parallel()
	p, f := newTestPublisher(t, fakeConfig{maxBytes: 1 << 20})
	if err := p.Publish(t.Context(), "tasks"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if n := len(f.all()); n != 0 {
		t.Errorf("made %d senders for no messages, want 0", n)
	}
}

func TestPublishRejects(t *testing.T) {
	t.Parallel()
	// A body that stands for personal data: it must never reach an error.
	secret := strings.Repeat("jane.doe@example.com ", 10)
	tests := []struct {
		name     string
		queue    string
		msgs     []privacy.OutMessage
		wantText []string // the error contains each
		wantIs   error
	}{
		{
			name:     "no queue name",
			queue:    "",
			msgs:     []privacy.OutMessage{msg("m1")},
			wantText: []string{"queue name is empty"},
		},
		{
			name:     "a message without an id",
			queue:    "tasks",
			msgs:     []privacy.OutMessage{msg("m1"), {Body: []byte(secret)}},
			wantText: []string{"message 1 has no id"},
		},
		{
			name:     "an id longer than Service Bus takes",
			queue:    "tasks",
			msgs:     []privacy.OutMessage{{ID: strings.Repeat("x", 129), Body: []byte(secret)}},
			wantText: []string{"message 0", "129 bytes"},
		},
		{
			name:     "a message too large for an empty batch",
			queue:    "tasks",
			msgs:     []privacy.OutMessage{msg("m1"), {ID: "big-one", Body: []byte(secret)}, msg("m3")},
			wantText: []string{"tasks", "big-one", fmt.Sprintf("%d bytes", len(secret))},
			wantIs:   azservicebus.ErrMessageTooLarge,
		},
		{
			name:     "a scheduled message too large for an empty batch",
			queue:    "tasks",
			msgs:     []privacy.OutMessage{at(privacy.OutMessage{ID: "big-one", Body: []byte(secret)}, testNow.Add(time.Hour))},
			wantText: []string{"big-one"},
			wantIs:   azservicebus.ErrMessageTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, f := newTestPublisher(t, fakeConfig{maxBytes: 100})
			err := p.Publish(t.Context(), tt.queue, tt.msgs...)
			if err == nil {
				t.Fatal("Publish succeeded, want an error")
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "jane.doe") {
				t.Errorf("error %q quotes the message body", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if errors.Is(err, privacy.ErrUnavailable) {
				t.Errorf("error %v is ErrUnavailable, want a permanent error", err)
			}
			for _, s := range f.all() {
				if got := s.batches(); len(got) != 0 {
					t.Errorf("sent %d batches, want none (nothing half-sent)", len(got))
				}
			}
		})
	}
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		err             error
		inNewBatch      bool // the fault is in NewMessageBatch, not the send
		wantUnavailable bool
	}{
		{name: "service time-out", err: &azservicebus.Error{Code: azservicebus.CodeTimeout}, wantUnavailable: true},
		{name: "connection lost", err: &azservicebus.Error{Code: azservicebus.CodeConnectionLost}, wantUnavailable: true},
		{name: "connection lost opening the link", err: &azservicebus.Error{Code: azservicebus.CodeConnectionLost},
			inNewBatch: true, wantUnavailable: true},
		{name: "throttled (server busy)", err: &amqp.Error{Condition: "com.microsoft:server-busy"}, wantUnavailable: true},
		{name: "queue at its quota", err: &amqp.Error{Condition: amqp.ErrCondResourceLimitExceeded}, wantUnavailable: true},
		{name: "context deadline", err: fmt.Errorf("sending: %w", context.DeadlineExceeded), wantUnavailable: true},
		{name: "unauthorized", err: &azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}},
		{name: "queue not found", err: &azservicebus.Error{Code: azservicebus.CodeNotFound}},
		{name: "unauthorized opening the link", err: &azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}, inNewBatch: true},
		{name: "lock lost is not a sender's", err: &azservicebus.Error{Code: azservicebus.CodeLockLost}},
		{name: "sender closed", err: &azservicebus.Error{Code: azservicebus.CodeClosed}},
		{name: "entity disabled", err: &amqp.Error{Condition: "com.microsoft:entity-disabled"}},
		{name: "context cancelled", err: context.Canceled},
		{name: "anything else", err: errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			config := fakeConfig{maxBytes: 1 << 20}
			if tt.inNewBatch {
				config.newBatchErr = func() error { return tt.err }
			} else {
				config.sendErr = func(int) error { return tt.err }
			}
			p, _ := newTestPublisher(t, config)
			err := p.Publish(t.Context(), "tasks", msg("m1"))
			if !errors.Is(err, tt.err) {
				t.Fatalf("Publish error %v does not wrap %v", err, tt.err)
			}
			if got := errors.Is(err, privacy.ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
			}
		})
	}
}

func TestPublishStopsAtTheFailedBatch(t *testing.T) {
	t.Parallel()
	busy := &amqp.Error{Condition: "com.microsoft:server-busy"}
	p, f := newTestPublisher(t, fakeConfig{
		maxBytes: 70, // two messages a batch
		sendErr: func(n int) error {
			if n == 2 {
				return busy
			}
			return nil
		},
	})
	err := p.Publish(t.Context(), "tasks", msg("m1"), msg("m2"), msg("m3"), msg("m4"), msg("m5"))
	if !errors.Is(err, privacy.ErrUnavailable) || !strings.Contains(err.Error(), "batch 2 of 3") {
		t.Fatalf("Publish error = %v, want ErrUnavailable naming batch 2 of 3", err)
	}
	s, _ := f.only()
	want := [][]sentMessage{{sent("m1", time.Time{}), sent("m2", time.Time{})}}
	if diff := cmp.Diff(want, s.batches()); diff != "" {
		t.Errorf("sent batches (-want +got):\n%s", diff)
	}
	if s.sends != 2 {
		t.Errorf("sends attempted = %d, want 2 (none after the failure)", s.sends)
	}
}

func TestPublishConcurrentQueues(t *testing.T) {
	t.Parallel()
	p, f := newTestPublisher(t, fakeConfig{maxBytes: 1 << 20})
	const queues, perQueue = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, queues*perQueue)
	for q := range queues {
		for i := range perQueue {
			wg.Go(func() {
				errs <- p.Publish(t.Context(), fmt.Sprintf("q%d", q), msg(fmt.Sprintf("m%d", i)))
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}

	perQueueSenders := map[string]int{}
	perQueueMessages := map[string]int{}
	for _, s := range f.all() {
		perQueueSenders[s.queue]++
		for _, b := range s.batches() {
			perQueueMessages[s.queue] += len(b)
		}
	}
	wantSenders, wantMessages := map[string]int{}, map[string]int{}
	for q := range queues {
		wantSenders[fmt.Sprintf("q%d", q)] = 1
		wantMessages[fmt.Sprintf("q%d", q)] = perQueue
	}
	if diff := cmp.Diff(wantSenders, perQueueSenders); diff != "" {
		t.Errorf("senders per queue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantMessages, perQueueMessages); diff != "" {
		t.Errorf("messages per queue (-want +got):\n%s", diff)
	}

	if err := p.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, s := range f.all() {
		if n := s.closeCount(); n != 1 {
			t.Errorf("sender for %s closed %d times, want 1", s.queue, n)
		}
	}
	if err := p.Publish(t.Context(), "q0", msg("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if n := len(f.all()); n != queues {
		t.Errorf("made %d senders, want %d (none after Close)", n, queues)
	}
}

func TestCloseClosesEverySenderAndCollectsErrors(t *testing.T) {
	t.Parallel()
	errClose := errors.New("detach failed")
	p, f := newTestPublisher(t, fakeConfig{maxBytes: 1 << 20, closeErr: func() error { return errClose }})
	for _, q := range []string{"q1", "q2"} {
		if err := p.Publish(t.Context(), q, msg("m1")); err != nil {
			t.Fatalf("Publish to %s: %v", q, err)
		}
	}
	err := p.Close(t.Context())
	if !errors.Is(err, errClose) || !strings.Contains(err.Error(), "q1") || !strings.Contains(err.Error(), "q2") {
		t.Errorf("Close = %v, want both senders' errors", err)
	}
	for _, s := range f.all() {
		if n := s.closeCount(); n != 1 {
			t.Errorf("sender for %s closed %d times, want 1", s.queue, n)
		}
	}
}

func TestSenderCreationFailureIsRetried(t *testing.T) {
	t.Parallel()
	f := &fakeSenders{config: fakeConfig{maxBytes: 1 << 20}}
	fail := true
	p := newPublisher(func(queue string) (sender, error) {
		if fail {
			return nil, &azservicebus.Error{Code: azservicebus.CodeConnectionLost}
		}
		return f.newSender(queue)
	}, func() time.Time { return testNow })
	if err := p.Publish(t.Context(), "tasks", msg("m1")); !errors.Is(err, privacy.ErrUnavailable) {
		t.Fatalf("Publish = %v, want ErrUnavailable", err)
	}
	fail = false
	if err := p.Publish(t.Context(), "tasks", msg("m1")); err != nil {
		t.Fatalf("Publish after the failure: %v", err)
	}
	if n := len(f.all()); n != 1 {
		t.Errorf("made %d senders, want 1", n)
	}
}
