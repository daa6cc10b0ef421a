package lambdahost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
)

// The message ids of testdata/sqs_standard.json and sqs_fifo.json.
const (
	std1, std2, std3    = "059f36b4-87a3-44ab-83d2-661975830a7d", "2e1424d4-f796-459a-8184-9c92662be6da", "9b8d6f2e-4c1a-4b7e-9d3f-0a1b2c3d4e5f"
	fifo1, fifo2, fifo3 = "a1b2c3d4-0001-4000-8000-000000000001", "a1b2c3d4-0001-4000-8000-000000000002", "a1b2c3d4-0001-4000-8000-000000000003"
)

// calls records the messages a queue function received, in order.
type calls struct {
	mu   sync.Mutex
	msgs []trigger.Message
	invs []trigger.Invocation
}

// fn returns a queue function that records each message and returns
// results[message id] (nil when absent); a result "panic" panics.
func (c *calls) fn(results map[string]error) trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error {
		c.mu.Lock()
		inv, _ := trigger.InvocationFrom(ctx)
		c.msgs, c.invs = append(c.msgs, m), append(c.invs, inv)
		c.mu.Unlock()
		if errors.Is(results[m.ID], errTestPanic) {
			panic("queue function exploded")
		}
		return results[m.ID]
	}
}

func (c *calls) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := []string{}
	for _, m := range c.msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

var errTestPanic = errors.New("panic")

func failures(ids ...string) events.SQSEventResponse {
	res := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, id := range ids {
		res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	return res
}

func TestSQSMessageFromRecord(t *testing.T) {
	t.Parallel()
	var c calls
	h, _ := newHost(t, fakes{notify: c.fn(nil)}, nil)
	res := invoke[events.SQSEventResponse](t, h, event(t, "sqs_standard.json"))
	if diff := cmp.Diff(failures(), res); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	body := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"specversion": "1.0", "id": "evt-%d", "source": "privops/dsr", "type": "privops.notice", "datacontenttype": "application/json", "data": {"requestId": "req-%d", "notice": "received"}}`, i, i))
	}
	want := []trigger.Message{{
		ID: std1, Body: body(1), DeliveryCount: 1, Queue: "notices",
		EnqueuedAt:  time.Date(2030, 1, 31, 1, 59, 58, 123e6, time.UTC),
		ContentType: "application/cloudevents+json",
		// The Binary attribute "signature" has no string form.
		Properties: map[string]string{"ContentType": "application/cloudevents+json", "tenant": "demo", "attempt": "1"},
	}, {
		ID: std2, Body: body(2), DeliveryCount: 3, Queue: "notices",
		EnqueuedAt: time.Date(2030, 1, 31, 1, 59, 59, 0, time.UTC),
	}, {
		ID: std3, Body: body(3), DeliveryCount: 1, Queue: "notices",
		EnqueuedAt: time.Date(2030, 1, 31, 2, 0, 0, 500e6, time.UTC),
	}}
	if diff := cmp.Diff(want, c.msgs); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	wantInv := []trigger.Invocation{{ID: std1, Function: "notify"}, {ID: std2, Function: "notify"}, {ID: std3, Function: "notify"}}
	if diff := cmp.Diff(wantInv, c.invs); diff != "" {
		t.Errorf("invocations (-want +got):\n%s", diff)
	}
}

func TestSQSPartialBatchFailure(t *testing.T) {
	t.Parallel()
	transient := errors.New("store unavailable")
	tests := []struct {
		name         string
		results      map[string]error
		want         events.SQSEventResponse
		wantRejected []string // reasons logged at warn level
	}{
		{name: "all complete", want: failures()},
		{name: "one transient error", results: map[string]error{std2: transient}, want: failures(std2)},
		{name: "a rejection counts as success", results: map[string]error{std2: trigger.Reject("unknown event type")},
			want: failures(), wantRejected: []string{"unknown event type"}},
		{name: "a wrapped rejection too", results: map[string]error{std3: fmt.Errorf("notify: %w", trigger.Reject("bad signature"))},
			want: failures(), wantRejected: []string{"bad signature"}},
		{name: "a panic fails its record only", results: map[string]error{std1: errTestPanic}, want: failures(std1)},
		{name: "every record fails", results: map[string]error{std1: transient, std2: transient, std3: transient},
			want: failures(std1, std2, std3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			h, logs := newHost(t, fakes{notify: c.fn(tt.results)}, nil)
			res := invoke[events.SQSEventResponse](t, h, event(t, "sqs_standard.json"))
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			// A standard queue has no order to keep: every record is run.
			if diff := cmp.Diff([]string{std1, std2, std3}, c.ids()); diff != "" {
				t.Errorf("records run (-want +got):\n%s", diff)
			}
			var rejected []string
			for _, l := range logs.find(t, "message rejected", "reason") {
				if l.Level != "WARN" {
					t.Errorf("rejection logged at %s, want WARN", l.Level)
				}
				rejected = append(rejected, l.Attrs["reason"])
			}
			if diff := cmp.Diff(tt.wantRejected, rejected); diff != "" {
				t.Errorf("rejection reasons (-want +got):\n%s", diff)
			}
			if strings.Contains(logs.String(), "req-1") {
				t.Errorf("a message body reached the logs:\n%s", logs)
			}
		})
	}
}

func TestSQSFIFOStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	transient := errors.New("connector timed out")
	tests := []struct {
		name    string
		results map[string]error
		want    events.SQSEventResponse
		wantRun []string
	}{
		{name: "all complete", want: failures(), wantRun: []string{fifo1, fifo2, fifo3}},
		{name: "middle fails: it and the rest are reported", results: map[string]error{fifo2: transient},
			want: failures(fifo2, fifo3), wantRun: []string{fifo1, fifo2}},
		{name: "first panics: the whole batch is reported", results: map[string]error{fifo1: errTestPanic},
			want: failures(fifo1, fifo2, fifo3), wantRun: []string{fifo1}},
		{name: "a rejection does not stop the batch", results: map[string]error{fifo1: trigger.Reject("malformed task")},
			want: failures(), wantRun: []string{fifo1, fifo2, fifo3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			h, _ := newHost(t, fakes{tasks: c.fn(tt.results)}, map[string]string{"TASKS_QUEUE": "tasks.fifo"})
			res := invoke[events.SQSEventResponse](t, h, event(t, "sqs_fifo.json"))
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRun, c.ids()); diff != "" {
				t.Errorf("records run (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSQSRecordsThatCannotRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		edit     func(*events.SQSEvent)
		cancel   bool
		want     events.SQSEventResponse
		wantRun  []string
		wantLog  string
		wantLvl  string
		wantAttr map[string]string
	}{{
		name: "unknown queue",
		edit: func(ev *events.SQSEvent) {
			ev.Records[1].EventSourceARN = "arn:aws:sqs:eu-central-1:123456789012:exports"
		},
		want:    failures(std2),
		wantRun: []string{std1, std3},
		wantLog: "no queue function reads this queue; message will be redelivered", wantLvl: "ERROR",
		wantAttr: map[string]string{"queue": "exports", "message_id": std2},
	}, {
		name:    "receive count that does not parse",
		edit:    func(ev *events.SQSEvent) { ev.Records[0].Attributes["ApproximateReceiveCount"] = "many" },
		want:    failures(std1),
		wantRun: []string{std2, std3},
		wantLog: "decode sqs record; message will be redelivered", wantLvl: "ERROR",
		wantAttr: map[string]string{"queue": "notices", "message_id": std1},
	}, {
		name:    "deadline passed before the batch",
		cancel:  true,
		want:    failures(std1, std2, std3),
		wantRun: []string{},
		wantLog: "invocation deadline passed; remaining records left for redelivery", wantLvl: "WARN",
		wantAttr: map[string]string{"skipped": "3"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c calls
			h, logs := newHost(t, fakes{notify: c.fn(nil)}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			out, err := h.Invoke(ctx, edited(t, "sqs_standard.json", tt.edit))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRun, c.ids()); diff != "" {
				t.Errorf("records run (-want +got):\n%s", diff)
			}
			var keys []string
			for k := range tt.wantAttr {
				keys = append(keys, k)
			}
			got := logs.find(t, tt.wantLog, keys...)
			if len(got) != 1 {
				t.Fatalf("want one %q log line; logs:\n%s", tt.wantLog, logs)
			}
			if got[0].Level != tt.wantLvl {
				t.Errorf("%q logged at %s, want %s", tt.wantLog, got[0].Level, tt.wantLvl)
			}
			if diff := cmp.Diff(tt.wantAttr, got[0].Attrs); diff != "" {
				t.Errorf("log attributes (-want +got):\n%s", diff)
			}
		})
	}
}
