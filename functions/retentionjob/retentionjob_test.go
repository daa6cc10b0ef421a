package retentionjob

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/privacy"
	domain "github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/trigger"
)

type fakeSweeper struct {
	res    domain.JobResult
	err    error
	tenant string
	due    time.Time
	budget time.Duration
}

func (f *fakeSweeper) Job(_ context.Context, tenantID, _ string, due time.Time, budget time.Duration) (domain.JobResult, error) {
	f.tenant, f.due, f.budget = tenantID, due, budget
	return f.res, f.err
}

type sent struct {
	id        string
	notBefore time.Time
}

type fakePublisher struct{ out []sent }

func (p *fakePublisher) Publish(_ context.Context, queue string, msgs ...privacy.OutMessage) error {
	for _, m := range msgs {
		p.out = append(p.out, sent{m.ID, m.NotBefore})
	}
	return nil
}

func TestJobMessage(t *testing.T) {
	t.Parallel()
	due := time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)
	wait := due.Add(7 * time.Minute)
	msg, err := retention.Message("acme", due, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		body    []byte
		res     domain.JobResult
		err     error
		wantErr bool
		want    []sent
	}{
		{"finished", msg.Body, domain.JobResult{Run: &domain.Run{ID: "run_1", Invocations: 1}}, nil, false, nil},
		{"more to do: enqueue itself", msg.Body, domain.JobResult{Run: &domain.Run{ID: "run_1", Invocations: 2}, More: true}, nil, false,
			[]sent{{"retention-acme-1901152800-i2-run_1", time.Time{}}}},
		{"another owner: check when its lease runs out", msg.Body, domain.JobResult{WaitUntil: wait}, nil, false,
			[]sent{{"retention-acme-1901152800-w1901153220", wait.Add(time.Second)}}},
		{"transient failure: redelivered", msg.Body, domain.JobResult{}, errors.New("store down"), true, nil},
		{"unknown tenant: dropped", msg.Body, domain.JobResult{}, privacy.ErrNotFound, false, nil},
		{"malformed: dropped", []byte(`{"specversion":"1.0"}`), domain.JobResult{}, nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sw, pub := &fakeSweeper{res: tc.res, err: tc.err}, &fakePublisher{}
			fn := New(Config{Queue: "q", Budget: time.Minute}, Deps{Sweeper: sw, Publisher: pub, Logger: slog.New(slog.DiscardHandler)})
			err := fn(t.Context(), trigger.Message{ID: msg.ID, Body: tc.body, DeliveryCount: 1})
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, pub.out, cmp.AllowUnexported(sent{})); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
			if string(tc.body) == string(msg.Body) && (sw.tenant != "acme" || !sw.due.Equal(due) || sw.budget != time.Minute) {
				t.Errorf("sweeper called with %q %s %s", sw.tenant, sw.due, sw.budget)
			}
		})
	}
}
