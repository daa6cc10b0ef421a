package deadlinewatch_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/deadlinewatch"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

type fakeOffboarder struct {
	ran     []string
	failFor string
}

func (f *fakeOffboarder) RunTenant(_ context.Context, id string) (offboard.Outcome, error) {
	f.ran = append(f.ran, id)
	if id == f.failFor {
		return "", errors.New("store down")
	}
	return offboard.Continue, nil
}

// TestWatchCarriesOffboardingsOn: the watch runs the offboarding of every
// offboarding tenant, after its other work, and of no other tenant; one
// tenant's failure is reported and does not stop the others.
func TestWatchCarriesOffboardingsOn(t *testing.T) {
	t.Parallel()
	off := &fakeOffboarder{failFor: "acme"}
	offboarding := func(id string) *privacy.Tenant {
		return &privacy.Tenant{ID: id, Status: privacy.TenantOffboarding, Offboarding: &privacy.Offboarding{ID: "off_" + id}}
	}
	run := deadlinewatch.New(deadlinewatch.Config{Warn: time.Hour, Limit: 10, PerTenant: time.Second},
		deadlinewatch.Deps{Service: &fakeService{}, Offboarder: off, Logger: slog.New(slog.DiscardHandler),
			Tenants: tenants{offboarding("acme"), {ID: "globex"}, {ID: "hooli", Status: privacy.TenantSuspended}, offboarding("initech")}})
	if err := run(context.Background(), trigger.TimerInfo{}); err == nil {
		t.Error("acme's failure is not reported")
	}
	if diff := cmp.Diff([]string{"acme", "initech"}, off.ran); diff != "" {
		t.Errorf("offboardings run (-want +got):\n%s", diff)
	}
}
