package azfunc

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
)

func TestPayloadQueue(t *testing.T) {
	t.Parallel()
	cloudEvent, err := os.ReadFile("testdata/cloudevent.json")
	if err != nil {
		t.Fatal(err)
	}
	enqueued := time.Date(2030, 1, 31, 1, 59, 58, 0, time.UTC)
	tests := []struct {
		name string
		file string
		want trigger.Message
	}{
		{
			name: "dataType binary",
			file: "servicebus_binary.json",
			want: trigger.Message{ID: "evt-42", Body: cloudEvent, DeliveryCount: 3, EnqueuedAt: enqueued, Queue: "notices",
				ContentType: "application/cloudevents+json", Properties: map[string]string{"tenant": "acme"}},
		},
		{
			name: "double-encoded string",
			file: "servicebus_string.json",
			want: trigger.Message{ID: "evt-42", Body: cloudEvent, DeliveryCount: 1, EnqueuedAt: enqueued, Queue: "notices",
				ContentType: "application/cloudevents+json", Properties: map[string]string{"tenant": "acme", "attempt": "2"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []trigger.Message
			var inv trigger.Invocation
			h := newHandler(t, fakes{notify: func(ctx context.Context, m trigger.Message) error {
				got = append(got, m)
				inv, _ = trigger.InvocationFrom(ctx)
				return nil
			}})
			w := invoke(t, h, "notify", payload(t, tc.file), "inv-q")
			if w.Code != http.StatusOK {
				t.Fatalf("status to the host = %d, want 200", w.Code)
			}
			if r := decodeReply(t, w); len(r.Outputs) != 0 || r.Logs == nil {
				t.Errorf("reply = %+v, want empty Outputs and Logs", r)
			}
			if diff := cmp.Diff([]trigger.Message{tc.want}, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if want := (trigger.Invocation{ID: "inv-q", Function: "notify"}); inv != want {
				t.Errorf("invocation = %+v, want %+v", inv, want)
			}
		})
	}
}

func TestPayloadQueueFailuresAreRedelivered(t *testing.T) {
	t.Parallel()
	binary := string(payload(t, "servicebus_binary.json"))
	tests := []struct {
		name string
		body string
		fn   trigger.QueueFunc
	}{
		{"function error", binary, func(context.Context, trigger.Message) error { return errors.New("store unavailable") }},
		{"function panic", binary, func(context.Context, trigger.Message) error { panic("boom") }},
		{"body not base64", `{"Data":{"msg":"not base64!"},"Metadata":{}}`, nil},
		{"no trigger data", `{"Data":{},"Metadata":{"DeliveryCount":"1"}}`, nil},
		{"null body", `{"Data":{"msg":null},"Metadata":{}}`, nil},
		{"bad delivery count", `{"Data":{"msg":"e30="},"Metadata":{"DeliveryCount":"three"}}`, nil},
		{"bad enqueued time", `{"Data":{"msg":"e30="},"Metadata":{"EnqueuedTime":"yesterday"}}`, nil},
		{"not JSON", `Data`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			called := false
			fn := tc.fn
			if fn == nil {
				fn = func(context.Context, trigger.Message) error { called = true; return nil }
			}
			w := invoke(t, newHandler(t, fakes{notify: fn}), "notify", []byte(tc.body), "inv-f")
			if w.Code < 300 {
				t.Errorf("status to the host = %d, want non-2xx so the host abandons the message", w.Code)
			}
			decodeReply(t, w)
			if called {
				t.Error("the function was called with a malformed payload")
			}
		})
	}
}

func TestDecodeMessageScalars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		metadata string
		want     trigger.Message
	}{
		{"host strings", `{"DeliveryCount":"3","MessageId":"\"abc\"","EnqueuedTime":"2030-01-31T02:00:00+01:00"}`,
			trigger.Message{ID: "abc", DeliveryCount: 3, EnqueuedAt: time.Date(2030, 1, 31, 1, 0, 0, 0, time.UTC)}},
		{"plain values", `{"DeliveryCount":2,"MessageId":"abc","EnqueuedTime":"\"2030-01-31T02:00:00Z\""}`,
			trigger.Message{ID: "abc", DeliveryCount: 2, EnqueuedAt: time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)}},
		{"zone-less fallback", `{"EnqueuedTimeUtc":"2030-01-31T02:00:00"}`,
			trigger.Message{DeliveryCount: 1, EnqueuedAt: time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)}},
		{"absent", `{}`, trigger.Message{DeliveryCount: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var env envelope
			if err := jsonUnmarshal(`{"Data":{"m":"e30="},"Metadata":`+tc.metadata+`}`, &env); err != nil {
				t.Fatal(err)
			}
			got, err := decodeMessage(env, "m")
			if err != nil {
				t.Fatalf("decodeMessage: %v", err)
			}
			tc.want.Body = []byte("{}")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPayloadTimer(t *testing.T) {
	t.Parallel()
	clock := func() time.Time { return time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name string
		body string
		want trigger.TimerInfo
	}{
		{"with schedule status", string(payload(t, "timer_status.json")),
			trigger.TimerInfo{ScheduledAt: time.Date(2030, 1, 31, 2, 5, 0, 0, time.UTC)}},
		{"past due runs the missed occurrence", string(payload(t, "timer_pastdue.json")),
			trigger.TimerInfo{ScheduledAt: time.Date(2030, 1, 31, 2, 5, 0, 0, time.UTC), IsPastDue: true}},
		{"null schedule status uses sys.UtcNow", string(payload(t, "timer_nostatus.json")),
			trigger.TimerInfo{ScheduledAt: time.Date(2030, 1, 31, 2, 5, 0, 0, time.UTC)}},
		{"Next far ahead is a start-up run", `{"Data":{"timer":{"ScheduleStatus":{"Next":"2030-01-31T03:05:00+00:00"},"IsPastDue":false}},"Metadata":{"sys":{"UtcNow":"2030-01-31T02:10:07.5Z"}}}`,
			trigger.TimerInfo{ScheduledAt: time.Date(2030, 1, 31, 2, 10, 7, 0, time.UTC)}},
		{"no sys uses the clock", `{"Data":{"timer":{"IsPastDue":"true"}},"Metadata":{}}`,
			trigger.TimerInfo{ScheduledAt: clock(), IsPastDue: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []trigger.TimerInfo
			h := newHandler(t, fakes{deadlinewatch: func(_ context.Context, ti trigger.TimerInfo) error {
				got = append(got, ti)
				return nil
			}}, WithClock(clock))
			w := invoke(t, h, "deadlinewatch", []byte(tc.body), "inv-t")
			if w.Code != http.StatusOK {
				t.Fatalf("status to the host = %d, want 200", w.Code)
			}
			decodeReply(t, w)
			if diff := cmp.Diff([]trigger.TimerInfo{tc.want}, got); diff != "" {
				t.Errorf("timer info (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPayloadTimerFailure(t *testing.T) {
	t.Parallel()
	for name, fn := range map[string]trigger.TimerFunc{
		"error": func(context.Context, trigger.TimerInfo) error { return errors.New("sweep failed") },
		"panic": func(context.Context, trigger.TimerInfo) error { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := invoke(t, newHandler(t, fakes{deadlinewatch: fn}), "deadlinewatch", payload(t, "timer_status.json"), "inv-t")
			if w.Code != http.StatusInternalServerError {
				t.Errorf("status to the host = %d, want 500 so the host records the failure", w.Code)
			}
			if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
			}
		})
	}
}
