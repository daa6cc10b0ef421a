package lambdahost

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
)

// scheduled is the time of testdata/eventbridge_scheduled.json.
var scheduled = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

// timerCalls records what a timer function received.
type timerCalls struct {
	infos []trigger.TimerInfo
	invs  []trigger.Invocation
}

func (c *timerCalls) fn(err error) trigger.TimerFunc {
	return func(ctx context.Context, ti trigger.TimerInfo) error {
		inv, _ := trigger.InvocationFrom(ctx)
		c.infos, c.invs = append(c.infos, ti), append(c.invs, inv)
		if errors.Is(err, errTestPanic) {
			panic("timer exploded")
		}
		return err
	}
}

func TestTimerDispatchByRuleName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		resource []string
		wantRun  bool
		wantErr  string
	}{
		{name: "deployment prefix", resource: []string{"arn:aws:events:eu-central-1:123456789012:rule/privops-prod-deadlinewatch"}, wantRun: true},
		{name: "bare function name", resource: []string{"arn:aws:events:eu-central-1:123456789012:rule/deadlinewatch"}, wantRun: true},
		{name: "case-insensitive", resource: []string{"arn:aws:events:eu-central-1:123456789012:rule/Privops-DeadlineWatch"}, wantRun: true},
		{name: "rule on a custom event bus", resource: []string{"arn:aws:events:eu-central-1:123456789012:rule/privops-bus/privops-deadlinewatch"}, wantRun: true},
		{name: "rule no function answers to", resource: []string{"arn:aws:events:eu-central-1:123456789012:rule/privops-prod-nightly"},
			wantErr: `no timer function for rule "privops-prod-nightly" (want the function name, or a name ending in -<function name>)`},
		{name: "a name only containing the function", resource: []string{"arn:aws:events:eu-central-1:123456789012:rule/deadlinewatch-prod"},
			wantErr: `no timer function for rule "deadlinewatch-prod" (want the function name, or a name ending in -<function name>)`},
		{name: "no resource", resource: nil,
			wantErr: `no timer function for rule "" (want the function name, or a name ending in -<function name>)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c timerCalls
			h, _ := newHost(t, fakes{deadlinewatch: c.fn(nil)}, nil, WithClock(func() time.Time { return scheduled.Add(3 * time.Second) }))
			raw := edited(t, "eventbridge_scheduled.json", func(ev *events.EventBridgeEvent) { ev.Resources = tt.resource })
			out, err := h.Invoke(context.Background(), raw)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if out != nil {
				t.Errorf("Invoke returned %#v, want nil for a scheduled event", out)
			}
			var want []trigger.TimerInfo
			if tt.wantRun {
				want = []trigger.TimerInfo{{ScheduledAt: scheduled}}
			}
			if diff := cmp.Diff(want, c.infos); diff != "" {
				t.Errorf("timer runs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimerPastDue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		now  time.Time
		want trigger.TimerInfo
	}{
		{name: "on time", now: scheduled.Add(2 * time.Second), want: trigger.TimerInfo{ScheduledAt: scheduled}},
		{name: "a minute late is still on time", now: scheduled.Add(time.Minute), want: trigger.TimerInfo{ScheduledAt: scheduled}},
		{name: "a retry three minutes late", now: scheduled.Add(3 * time.Minute), want: trigger.TimerInfo{ScheduledAt: scheduled, IsPastDue: true}},
		{name: "clock in another zone", now: scheduled.Add(2 * time.Minute).In(time.FixedZone("CET", 3600)),
			want: trigger.TimerInfo{ScheduledAt: scheduled, IsPastDue: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c timerCalls
			h, _ := newHost(t, fakes{deadlinewatch: c.fn(nil)}, nil, WithClock(func() time.Time { return tt.now }))
			if _, err := h.Invoke(context.Background(), event(t, "eventbridge_scheduled.json")); err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if diff := cmp.Diff([]trigger.TimerInfo{tt.want}, c.infos); diff != "" {
				t.Errorf("timer info (-want +got):\n%s", diff)
			}
			if c.infos[0].ScheduledAt.Location() != time.UTC {
				t.Errorf("ScheduledAt in %s, want UTC", c.infos[0].ScheduledAt.Location())
			}
			want := []trigger.Invocation{{ID: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", Function: "deadlinewatch"}}
			if diff := cmp.Diff(want, c.invs); diff != "" {
				t.Errorf("invocation (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimerFailureIsTheInvocationError(t *testing.T) {
	t.Parallel()
	transient := errors.New("store unavailable")
	tests := []struct {
		name    string
		err     error
		wantIs  error
		wantMsg string
		wantLvl string
	}{
		{name: "error", err: transient, wantIs: transient,
			wantMsg: "timer function deadlinewatch: store unavailable", wantLvl: "WARN"},
		{name: "panic", err: errTestPanic, wantIs: errPanic,
			wantMsg: "timer function deadlinewatch: function panicked", wantLvl: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c timerCalls
			h, logs := newHost(t, fakes{deadlinewatch: c.fn(tt.err)}, nil, WithClock(func() time.Time { return scheduled }))
			_, err := h.Invoke(context.Background(), event(t, "eventbridge_scheduled.json"))
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("Invoke error = %v, want one wrapping %v", err, tt.wantIs)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Invoke error = %q, want %q", err, tt.wantMsg)
			}
			got := logs.find(t, "timer function failed; lambda will retry the invocation", "rule")
			if len(got) != 1 {
				t.Fatalf("want one failure log line; logs:\n%s", logs)
			}
			want := line{Level: tt.wantLvl, Msg: "timer function failed; lambda will retry the invocation",
				Attrs: map[string]string{"rule": "privops-prod-deadlinewatch"}}
			if diff := cmp.Diff(want, got[0]); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
		})
	}
}
