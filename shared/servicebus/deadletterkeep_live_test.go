package servicebus_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/servicebus"
)

// TestLiveDeadLetterKeep dead-letters a message on the live queue (gated as
// TestLive: SERVICEBUS_CONNECTION_STRING, SERVICEBUS_QUEUE), checks that a
// purge with a cutoff before it leaves it, and that a purge with a cutoff
// after it completes it (and any older dead letter of the test queue).
func TestLiveDeadLetterKeep(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	pub := servicebus.New(client)
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	id := fmt.Sprintf("dlkeep-%d", time.Now().UnixNano())
	before := time.Now().Add(-time.Minute) // the broker's clock may run a little behind ours
	if err := pub.Publish(ctx, queue, privacy.OutMessage{ID: id, Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	recv, err := client.NewReceiverForQueue(queue, nil)
	if err != nil {
		t.Fatalf("NewReceiverForQueue: %v", err)
	}
	t.Cleanup(func() { _ = recv.Close(context.Background()) })
	deadlettered := false
	for !deadlettered && ctx.Err() == nil {
		msgs, err := recv.ReceiveMessages(ctx, 10, nil)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range msgs {
			if m.MessageID == id {
				if err := recv.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{Reason: to("privops-live-test")}); err != nil {
					t.Fatalf("dead-letter: %v", err)
				}
				deadlettered = true
			} else if err := recv.CompleteMessage(ctx, m, nil); err != nil {
				t.Fatalf("complete a leftover: %v", err)
			}
		}
	}
	k := &servicebus.DeadLetterKeeper{Client: client}
	if n, err := k.PurgeDeadLetterBodies(ctx, queue, before); err != nil {
		t.Fatalf("purge before the message: %v", err)
	} else if n != 0 && !stillDead(t, ctx, client, queue, id) {
		t.Fatalf("a purge with a cutoff before the message removed it (%d purged)", n)
	}
	n, err := k.PurgeDeadLetterBodies(ctx, queue, time.Now().Add(time.Minute))
	if err != nil || n < 1 {
		t.Fatalf("purge after the message = %d, %v; want at least 1", n, err)
	}
	if stillDead(t, ctx, client, queue, id) {
		t.Fatal("the dead letter is still there after a purge past it")
	}
}

func to[T any](v T) *T { return &v }

// stillDead reports whether the dead-letter queue holds id (a peek).
func stillDead(t *testing.T, ctx context.Context, client *azservicebus.Client, queue, id string) bool {
	t.Helper()
	r, err := client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	if err != nil {
		t.Fatalf("open the dead-letter queue: %v", err)
	}
	defer func() { _ = r.Close(context.Background()) }()
	msgs, err := r.PeekMessages(ctx, 250, nil)
	if err != nil {
		t.Fatalf("peek: %v", err)
	}
	for _, m := range msgs {
		if m.MessageID == id {
			return true
		}
	}
	return false
}
