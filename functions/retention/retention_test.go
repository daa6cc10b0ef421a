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
	"github.com/privops/privops/shared/trigger"
)

type tenants []*privacy.Tenant

func (ts tenants) ListTenants(context.Context) ([]*privacy.Tenant, error) { return ts, nil }

type publisher struct{ ids []string }

func (p *publisher) Publish(_ context.Context, queue string, msgs ...privacy.OutMessage) error {
	for _, m := range msgs {
		ev, err := privacy.DecodeEvent(m.Body)
		if err != nil || ev.ID != m.ID || queue != "q" {
			return err
		}
		p.ids = append(p.ids, m.ID)
	}
	return nil
}

func TestTimerEnqueuesOneJobPerTenantWithPolicies(t *testing.T) {
	t.Parallel()
	ts := tenants{{ID: "acme", RetentionPolicies: []privacy.RetentionPolicy{{ID: "p"}}}, {ID: "globex"},
		{ID: "initech", RetentionPolicies: []privacy.RetentionPolicy{{ID: "p"}}}}
	var logs bytes.Buffer
	pub := &publisher{}
	due := time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)
	fn := New(Config{Queue: "q"}, Deps{Tenants: ts, Publisher: pub, Now: func() time.Time { return due.Add(time.Hour) },
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	// The same occurrence twice (a second timer, a retry): the same ids, so
	// the queue's dedupe delivers each job once.
	for range 2 {
		if err := fn(t.Context(), trigger.TimerInfo{ScheduledAt: due}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"retention-acme-1901152800", "retention-initech-1901152800", "retention-acme-1901152800", "retention-initech-1901152800"}
	if diff := cmp.Diff(want, pub.ids); diff != "" {
		t.Errorf("message ids (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), "past due") {
		t.Errorf("an on-time occurrence was flagged: %s", logs.String())
	}
	if err := fn(t.Context(), trigger.TimerInfo{ScheduledAt: due, IsPastDue: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "retention sweep is past due") {
		t.Errorf("a late occurrence was not flagged: %s", logs.String())
	}
}
