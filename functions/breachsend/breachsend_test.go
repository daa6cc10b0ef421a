package breachsend

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	domain "github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// fakeCampaigns records the steps it is asked to run; err fails them.
type fakeCampaigns struct {
	calls []string
	err   error
}

func (f *fakeCampaigns) Plan(_ context.Context, tenantID string, w domain.Work) error {
	f.calls = append(f.calls, "plan "+tenantID+" "+w.IncidentID)
	return f.err
}

func (f *fakeCampaigns) Deliver(_ context.Context, tenantID string, w domain.Work) error {
	f.calls = append(f.calls, "deliver "+tenantID+" "+w.IncidentID)
	return f.err
}

func (f *fakeCampaigns) Purge(_ context.Context, tenantID, incidentID string) (int, error) {
	f.calls = append(f.calls, "purge "+tenantID+" "+incidentID)
	return 0, f.err
}

func message(tb testing.TB, typ string, data any) trigger.Message {
	tb.Helper()
	ev, err := privacy.NewEvent("m1", typ, "acme", "", time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC), data)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(ev)
	return trigger.Message{ID: "m1", Body: b, DeliveryCount: 1}
}

// TestBreachSendDispatches: each message type runs its step; a malformed
// message or an unknown type is acknowledged and runs nothing; a failed step
// is returned, so the message is redelivered.
func TestBreachSendDispatches(t *testing.T) {
	t.Parallel()
	w := domain.Work{IncidentID: "inc-1", ListID: "lst_1", Version: 1, Batch: 3, From: 1501, To: 2000}
	failure := errors.New("store down")
	tests := []struct {
		name    string
		msg     trigger.Message
		err     error
		want    []string
		wantErr bool
	}{
		{"plan", message(t, domain.EventPlan, w), nil, []string{"plan acme inc-1"}, false},
		{"batch", message(t, domain.EventBatch, w), nil, []string{"deliver acme inc-1"}, false},
		{"purge", message(t, domain.EventPurge, w), nil, []string{"purge acme inc-1"}, false},
		{"unknown type", message(t, "io.privops.other.v1", w), nil, nil, false},
		{"no incident", message(t, domain.EventBatch, domain.Work{}), nil, nil, false},
		{"not an event", trigger.Message{ID: "m2", Body: []byte("nope")}, nil, nil, false},
		{"failed step", message(t, domain.EventBatch, w), failure, []string{"deliver acme inc-1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeCampaigns{err: tc.err}
			err := New(Deps{Campaigns: f, Logger: slog.New(slog.DiscardHandler)})(context.Background(), tc.msg)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}
