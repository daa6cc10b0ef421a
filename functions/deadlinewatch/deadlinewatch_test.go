package deadlinewatch_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/deadlinewatch"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

type fakeService struct {
	calls   []string
	failFor string
}

func (f *fakeService) Redrive(_ context.Context, tenantID string, _ time.Duration, _ int) (int, int, int, error) {
	f.calls = append(f.calls, "redrive "+tenantID)
	return 0, 0, 0, nil
}

func (f *fakeService) RedriveTenant(_ context.Context, t *privacy.Tenant) (bool, error) {
	f.calls = append(f.calls, "tenant outbox "+t.ID)
	return false, nil
}

func (f *fakeService) ResumeReleased(_ context.Context, t *privacy.Tenant) (int, error) {
	f.calls = append(f.calls, "resume "+t.ID)
	if t.ID == f.failFor {
		return 0, errors.New("store down")
	}
	return 1, nil
}

func (f *fakeService) Digest(_ context.Context, t *privacy.Tenant, _ time.Duration) (bool, error) {
	f.calls = append(f.calls, "digest "+t.ID)
	return false, nil
}

type tenants []*privacy.Tenant

func (ts tenants) ListTenants(context.Context) ([]*privacy.Tenant, error) { return ts, nil }

// TestWatchResumesReleasedHoldsOfEveryTenant: the watch finishes a hold
// release a crash cut short (issue 15, item 2), for every tenant, and one
// tenant's failure does not stop the others.
func TestWatchResumesReleasedHoldsOfEveryTenant(t *testing.T) {
	t.Parallel()
	svc := &fakeService{failFor: "acme"}
	run := deadlinewatch.New(deadlinewatch.Config{Warn: time.Hour, Limit: 10, PerTenant: time.Second},
		deadlinewatch.Deps{Service: svc, Tenants: tenants{{ID: "acme"}, {ID: "globex"}}, Logger: slog.New(slog.DiscardHandler)})
	err := run(context.Background(), trigger.TimerInfo{})
	if err == nil {
		t.Error("acme's failure is not reported")
	}
	want := []string{"tenant outbox acme", "redrive acme", "resume acme", "digest acme", "tenant outbox globex", "redrive globex", "resume globex", "digest globex"}
	if diff := cmp.Diff(want, svc.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
