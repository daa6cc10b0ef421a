package servicebus_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/servicebus"
)

// TestLive runs the Publisher against a real namespace named by
// SERVICEBUS_CONNECTION_STRING, on the queue SERVICEBUS_QUEUE (default
// privops-live-test), which must have duplicate detection enabled with a
// window of a few minutes at least. It drains the queue first and reads what
// it published back with a ReceiveAndDelete receiver. The cases share the
// queue and the receiver, so they run one after another; the message ids of
// each run are unique, so a rerun inside the duplicate detection window works.
func TestLive(t *testing.T) {
	conn := os.Getenv("SERVICEBUS_CONNECTION_STRING")
	if conn == "" {
		t.Skip("SERVICEBUS_CONNECTION_STRING is not set: the live Service Bus suite needs a namespace (no emulator runs on these machines)")
	}
	queue := cmp.Or(os.Getenv("SERVICEBUS_QUEUE"), "privops-live-test")

	client, err := servicebus.NewClient(conn)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close(context.Background()) })
	recv, err := client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{
		ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete,
	})
	if err != nil {
		t.Fatalf("NewReceiverForQueue(%s): %v", queue, err)
	}
	t.Cleanup(func() { _ = recv.Close(context.Background()) })
	pub := servicebus.New(client)
	t.Cleanup(func() { _ = pub.Close(context.Background()) })

	drain(t, recv)
	in := &inbox{recv: recv, prefix: fmt.Sprintf("live-%d-", time.Now().UnixNano()),
		got: map[string][]*azservicebus.ReceivedMessage{}, arrived: map[string]time.Time{}}
	publish := func(t *testing.T, msgs ...privacy.OutMessage) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := pub.Publish(ctx, queue, msgs...); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}

	t.Run("body and message id round-trip", func(t *testing.T) {
		id := in.prefix + "roundtrip"
		body := fmt.Sprintf(`{"specversion":"1.0","id":%q,"type":"privops.test"}`, id)
		publish(t, privacy.OutMessage{ID: id, Body: []byte(body)})
		if !in.receive(t, time.Minute, in.has(id)) {
			t.Fatalf("message %s did not arrive within a minute", id)
		}
		m := in.only(t, id)
		if string(m.Body) != body {
			t.Errorf("body = %s, want %s", m.Body, body)
		}
		if m.ContentType == nil || *m.ContentType != servicebus.ContentType {
			t.Errorf("content type = %v, want %s", m.ContentType, servicebus.ContentType)
		}
	})

	t.Run("content type and application properties round-trip", func(t *testing.T) {
		id := in.prefix + "properties"
		props := map[string]string{"signature": "t=1893463200,v1=3b1f", "empty": ""}
		publish(t, privacy.OutMessage{ID: id, Body: []byte(`{}`), ContentType: "application/json", Properties: props})
		if !in.receive(t, time.Minute, in.has(id)) {
			t.Fatalf("message %s did not arrive within a minute", id)
		}
		m := in.only(t, id)
		if m.ContentType == nil || *m.ContentType != "application/json" {
			t.Errorf("content type = %v, want application/json", m.ContentType)
		}
		for k, v := range props {
			if got, ok := m.ApplicationProperties[k].(string); !ok || got != v {
				t.Errorf("application property %s = %#v, want %q", k, m.ApplicationProperties[k], v)
			}
		}
	})

	t.Run("the same id published twice is delivered once", func(t *testing.T) {
		id := in.prefix + "duplicate"
		publish(t, privacy.OutMessage{ID: id, Body: []byte(`{"n":1}`)})
		publish(t, privacy.OutMessage{ID: id, Body: []byte(`{"n":2}`)})
		if !in.receive(t, time.Minute, in.has(id)) {
			t.Fatalf("message %s did not arrive within a minute", id)
		}
		in.receive(t, 10*time.Second, nil) // room for a second copy to show up
		if m := in.only(t, id); string(m.Body) != `{"n":1}` {
			t.Errorf("body = %s, want the first publish's", m.Body)
		}
	})

	t.Run("a scheduled message arrives at its time, not before", func(t *testing.T) {
		id := in.prefix + "scheduled"
		due := time.Now().Add(30 * time.Second).Truncate(time.Millisecond)
		publish(t, privacy.OutMessage{ID: id, Body: []byte(`{}`), NotBefore: due})
		in.receive(t, time.Until(due)-5*time.Second, nil)
		if n := len(in.got[id]); n != 0 {
			t.Fatalf("scheduled message arrived %s before its time", time.Until(due))
		}
		if !in.receive(t, time.Until(due)+time.Minute, in.has(id)) {
			t.Fatalf("scheduled message %s did not arrive within a minute of its time", id)
		}
		// Allow for the skew between this machine's clock and the broker's.
		if early := due.Sub(in.arrived[id]); early > 2*time.Second {
			t.Errorf("scheduled message arrived %s early", early)
		}
		m := in.only(t, id)
		if m.ScheduledEnqueueTime == nil || !m.ScheduledEnqueueTime.Equal(due) {
			t.Errorf("ScheduledEnqueueTime = %v, want %v", m.ScheduledEnqueueTime, due)
		}
	})

	t.Run("500 small messages all arrive once", func(t *testing.T) {
		var msgs []privacy.OutMessage
		var ids []string
		for i := range 500 {
			id := fmt.Sprintf("%sbulk-%03d", in.prefix, i)
			ids = append(ids, id)
			msgs = append(msgs, privacy.OutMessage{ID: id, Body: fmt.Appendf(nil, `{"i":%d}`, i)})
		}
		publish(t, msgs...)
		if !in.receive(t, 2*time.Minute, in.has(ids...)) {
			missing := 0
			for _, id := range ids {
				if len(in.got[id]) == 0 {
					missing++
				}
			}
			t.Fatalf("%d of 500 messages did not arrive within two minutes", missing)
		}
		for _, id := range ids {
			in.only(t, id)
		}
	})
}

// drain deletes whatever the queue holds, so the suite starts from empty.
func drain(tb testing.TB, recv *azservicebus.Receiver) {
	tb.Helper()
	for range 1000 {
		ctx, cancel := context.WithTimeout(tb.Context(), 3*time.Second)
		msgs, err := recv.ReceiveMessages(ctx, 500, nil)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			tb.Fatalf("drain: %v", err)
		}
		if len(msgs) == 0 {
			return
		}
	}
	tb.Fatal("drain: the queue is still not empty after 1000 receives")
}

// inbox keeps what the receiver returned of this run's messages (ids starting
// with prefix), by id, with the time each id first arrived.
type inbox struct {
	recv    *azservicebus.Receiver
	prefix  string
	got     map[string][]*azservicebus.ReceivedMessage
	arrived map[string]time.Time
}

// receive receives for up to d, stopping early once done (if not nil) is
// true, and reports whether done was reached.
func (in *inbox) receive(tb testing.TB, d time.Duration, done func() bool) bool {
	tb.Helper()
	deadline := time.Now().Add(d)
	for done == nil || !done() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		ctx, cancel := context.WithTimeout(tb.Context(), min(left, 5*time.Second))
		msgs, err := in.recv.ReceiveMessages(ctx, 500, nil)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			tb.Fatalf("receive: %v", err)
		}
		now := time.Now()
		for _, m := range msgs {
			if !strings.HasPrefix(m.MessageID, in.prefix) {
				continue
			}
			if len(in.got[m.MessageID]) == 0 {
				in.arrived[m.MessageID] = now
			}
			in.got[m.MessageID] = append(in.got[m.MessageID], m)
		}
	}
	return true
}

// has returns a done function for receive: every id has arrived.
func (in *inbox) has(ids ...string) func() bool {
	return func() bool {
		for _, id := range ids {
			if len(in.got[id]) == 0 {
				return false
			}
		}
		return true
	}
}

// only returns the one message received with id, failing if there were more.
func (in *inbox) only(tb testing.TB, id string) *azservicebus.ReceivedMessage {
	tb.Helper()
	got := in.got[id]
	if len(got) != 1 {
		tb.Fatalf("message %s arrived %d times, want once", id, len(got))
	}
	if got[0].MessageID != id {
		tb.Fatalf("message id = %s, want %s", got[0].MessageID, id)
	}
	return got[0]
}
