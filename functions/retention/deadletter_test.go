package retention

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/trigger"
)

// fakeDeadLetters records each queue's cutoff.
type fakeDeadLetters struct{ cutoffs map[string]time.Time }

func (f *fakeDeadLetters) PurgeDeadLetterBodies(_ context.Context, queue string, before time.Time) (int, error) {
	f.cutoffs[queue] = before
	return 2, nil
}

// TestDeadLetterKeepPerQueue: every queue's dead letters are kept
// DEADLETTER_KEEP; the inbound queue's no longer than INBOUND_KEEP_REJECTED
// nor than a tenant's rejected-inbound policy, unless that tenant holds
// something a rejected body could fall under.
func TestDeadLetterKeepPerQueue(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	policy := func(days int) []privacy.RetentionPolicy {
		return []privacy.RetentionPolicy{{ID: "bodies", Category: retention.CategoryRejectedInbound, Scope: retention.ScopeSuite, MaxAgeDays: days}}
	}
	cases := []struct {
		name        string
		inboundKeep time.Duration
		tenants     tenants
		wantInbound time.Duration
	}{
		{"the setting", 30 * day, nil, 20 * day},
		{"INBOUND_KEEP_REJECTED is shorter", 14 * day, nil, 14 * day},
		{"a tenant's rejected-inbound policy is shorter", 14 * day, tenants{{ID: "acme", RetentionPolicies: policy(3)}, {ID: "globex", RetentionPolicies: policy(7)}}, 3 * day},
		{"a tenant with a hold does not shorten it", 14 * day, tenants{{ID: "acme", RetentionPolicies: policy(3),
			Holds: []privacy.Hold{{ID: "h", Scope: privacy.HoldSubject, SubjectHash: "x"}}}}, 14 * day},
		{"a released hold does not count", 14 * day, tenants{{ID: "acme", RetentionPolicies: policy(3),
			Holds: []privacy.Hold{{ID: "h", Scope: privacy.HoldTenant, ReleasedAt: now.Add(-day)}}}}, 3 * day},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dl := &fakeDeadLetters{cutoffs: map[string]time.Time{}}
			var logs bytes.Buffer
			fn := New(Config{Queue: "q", DeadLetters: DeadLetterConfig{Keep: 20 * day, Queues: []string{"q", "privops-inbound"},
				InboundQueue: "privops-inbound", InboundKeep: c.inboundKeep}},
				Deps{Tenants: c.tenants, Publisher: &publisher{}, Now: func() time.Time { return now }, DeadLetters: dl,
					Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err := fn(t.Context(), trigger.TimerInfo{ScheduledAt: now}); err != nil {
				t.Fatal(err)
			}
			want := map[string]time.Time{"q": now.Add(-20 * day), "privops-inbound": now.Add(-c.wantInbound)}
			if diff := cmp.Diff(want, dl.cutoffs); diff != "" {
				t.Errorf("cutoffs (-want +got):\n%s", diff)
			}
			if !strings.Contains(logs.String(), `"queues":2,"purged":4,"failed_queues":0`) {
				t.Errorf("no count in the log: %s", logs.String())
			}
		})
	}
}
