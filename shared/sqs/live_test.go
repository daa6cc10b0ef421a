package sqs_test

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/sqs"
)

// TestLive runs the Publisher against the real queue SQS_QUEUE_URL (standard
// or FIFO), in AWS_REGION (else the region in the URL's host), through
// SQS_ENDPOINT if set (LocalStack), with the credentials in the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), as on Lambda;
// from a profile: eval "$(aws configure export-credentials --format env)". The
// queue must be a dedicated test queue: the suite deletes whatever it
// receives. The Publisher reaches the queue by name with QueueURLPrefix, as
// the Lambda wiring does; the suite reads what it published back with
// ReceiveMessage and deletes it. The cases share the queue, so they run one
// after another; each run's message ids are unique.
func TestLive(t *testing.T) {
	queueURL := os.Getenv("SQS_QUEUE_URL")
	if queueURL == "" {
		t.Skip("SQS_QUEUE_URL is not set: the live SQS suite needs a dedicated test queue's URL, " +
			"AWS credentials in the environment, and AWS_REGION (or a region in the URL); SQS_ENDPOINT points it at LocalStack")
	}
	slash := strings.LastIndexByte(queueURL, '/')
	prefix, queue := queueURL[:slash+1], queueURL[slash+1:]
	region := cmp.Or(os.Getenv("AWS_REGION"), regionOf(queueURL))
	endpoint := os.Getenv("SQS_ENDPOINT")
	fifo := strings.HasSuffix(queue, ".fifo")

	pub, err := sqs.New(t.Context(), sqs.Options{Region: region, Endpoint: endpoint, QueueURLPrefix: prefix})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion(region))
	if err != nil {
		t.Fatalf("load aws config: %v", err)
	}
	client := awssqs.NewFromConfig(cfg, func(o *awssqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})

	in := &liveInbox{client: client, url: queueURL, got: map[string][]types.Message{}, arrived: map[string]time.Time{}}
	in.drain(t)
	run := fmt.Sprintf("live-%d-", time.Now().UnixNano())
	message := func(name string) privacy.OutMessage {
		id := run + name
		return privacy.OutMessage{ID: id, Body: []byte(wireBody(id)), Properties: map[string]string{"test-id": id}}
	}
	publish := func(t *testing.T, msgs ...privacy.OutMessage) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := pub.Publish(ctx, queue, msgs...); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}

	t.Run("body, content type and properties round-trip", func(t *testing.T) {
		m := message("roundtrip")
		m.ContentType, m.Properties["tenant"] = "application/cloudevents+json", "demo"
		publish(t, m)
		if !in.receive(t, time.Minute, in.has(m.ID)) {
			t.Fatalf("message %s did not arrive within a minute", m.ID)
		}
		got := in.got[m.ID][0]
		if aws.ToString(got.Body) != string(m.Body) {
			t.Errorf("body = %s, want %s", aws.ToString(got.Body), m.Body)
		}
		for name, want := range map[string]string{"ContentType": m.ContentType, "tenant": "demo", "test-id": m.ID} {
			a, ok := got.MessageAttributes[name]
			if !ok || aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != want {
				t.Errorf("attribute %s = %v, want String %q", name, a, want)
			}
		}
	})

	t.Run("25 messages in one call all arrive", func(t *testing.T) {
		var msgs []privacy.OutMessage
		var ids []string
		for i := range 25 {
			m := message(fmt.Sprintf("bulk-%02d", i))
			msgs, ids = append(msgs, m), append(ids, m.ID)
		}
		publish(t, msgs...)
		if !in.receive(t, 2*time.Minute, in.has(ids...)) {
			t.Fatalf("%d of 25 messages did not arrive within two minutes", in.missing(ids))
		}
		if fifo {
			for _, id := range ids {
				if n := len(in.got[id]); n != 1 {
					t.Errorf("message %s arrived %d times on a FIFO queue, want once", id, n)
				}
			}
		}
	})

	t.Run("a scheduled message", func(t *testing.T) {
		m := message("scheduled")
		due := time.Now().Add(20 * time.Second)
		m.NotBefore = due
		publish(t, m)
		if fifo {
			// A FIFO queue takes no per-message delay: the message comes at
			// once and names its time.
			if !in.receive(t, time.Minute, in.has(m.ID)) {
				t.Fatalf("message %s did not arrive within a minute", m.ID)
			}
			a := in.got[m.ID][0].MessageAttributes[sqs.AttrNotBefore]
			if at, err := time.Parse(time.RFC3339, aws.ToString(a.StringValue)); err != nil || !at.Equal(due) {
				t.Errorf("%s = %q, want %s", sqs.AttrNotBefore, aws.ToString(a.StringValue), due.UTC().Format(time.RFC3339Nano))
			}
			return
		}
		in.receive(t, time.Until(due)-3*time.Second, nil)
		if n := len(in.got[m.ID]); n != 0 {
			t.Fatalf("delayed message arrived %s before its time", time.Until(due))
		}
		if !in.receive(t, time.Until(due)+time.Minute, in.has(m.ID)) {
			t.Fatalf("delayed message %s did not arrive within a minute of its time", m.ID)
		}
		if early := due.Sub(in.arrived[m.ID]); early > 2*time.Second {
			t.Errorf("delayed message arrived %s early", early)
		}
	})

	t.Run("the same id published twice", func(t *testing.T) {
		if !fifo {
			t.Skip("a standard queue has no duplicate detection (see the package documentation)")
		}
		m := message("duplicate")
		publish(t, m)
		second := m
		second.Body = []byte(wireBody(m.ID + "-again"))
		publish(t, second)
		if !in.receive(t, time.Minute, in.has(m.ID)) {
			t.Fatalf("message %s did not arrive within a minute", m.ID)
		}
		in.receive(t, 10*time.Second, nil) // room for a second copy to show up
		if n := len(in.got[m.ID]); n != 1 {
			t.Errorf("message %s arrived %d times, want once", m.ID, n)
		}
		if b := aws.ToString(in.got[m.ID][0].Body); b != string(m.Body) {
			t.Errorf("body = %s, want the first publish's", b)
		}
	})
}

// regionOf is the region in a queue URL's host (sqs.<region>.amazonaws.com),
// or "".
func regionOf(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 3 && parts[0] == "sqs" {
		return parts[1]
	}
	return ""
}

// liveInbox keeps the messages received, by their test-id attribute, with
// the time each id first arrived; it deletes every message it receives.
type liveInbox struct {
	client  *awssqs.Client
	url     string
	got     map[string][]types.Message
	arrived map[string]time.Time
}

// drain deletes whatever the queue holds, so the suite starts from empty.
func (in *liveInbox) drain(tb testing.TB) {
	tb.Helper()
	empty := 0
	for range 1000 {
		if n := len(in.receiveOnce(tb, 1)); n == 0 {
			if empty++; empty == 2 {
				return
			}
		}
	}
	tb.Fatal("drain: the queue is still not empty after 1000 receives")
}

// receive receives for up to d, stopping early once done (if not nil) is
// true, and reports whether done was reached.
func (in *liveInbox) receive(tb testing.TB, d time.Duration, done func() bool) bool {
	tb.Helper()
	deadline := time.Now().Add(d)
	for done == nil || !done() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		now := time.Now()
		for _, m := range in.receiveOnce(tb, int32(min(left, 5*time.Second)/time.Second)) {
			id := aws.ToString(m.MessageAttributes["test-id"].StringValue)
			if id == "" {
				continue
			}
			if len(in.got[id]) == 0 {
				in.arrived[id] = now
			}
			in.got[id] = append(in.got[id], m)
		}
	}
	return true
}

// receiveOnce receives up to ten messages, waiting up to wait seconds, and
// deletes them.
func (in *liveInbox) receiveOnce(tb testing.TB, wait int32) []types.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Duration(wait+10)*time.Second)
	defer cancel()
	out, err := in.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(in.url), MaxNumberOfMessages: 10, WaitTimeSeconds: wait,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		tb.Fatalf("receive: %v", err)
	}
	for _, m := range out.Messages {
		if _, err := in.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(in.url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			tb.Fatalf("delete: %v", err)
		}
	}
	return out.Messages
}

// has returns a done function for receive: every id has arrived.
func (in *liveInbox) has(ids ...string) func() bool {
	return func() bool { return in.missing(ids) == 0 }
}

func (in *liveInbox) missing(ids []string) int {
	n := 0
	for _, id := range ids {
		if len(in.got[id]) == 0 {
			n++
		}
	}
	return n
}
