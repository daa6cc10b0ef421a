package deadlinewatch_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/privops/privops/functions/deadlinewatch"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/trigger"
)

type fakeBreach struct {
	limit int
	err   error
}

func (f *fakeBreach) Watch(_ context.Context, limit int) (breach.WatchReport, error) {
	f.limit = limit
	return breach.WatchReport{Escalations: 2}, f.err
}

// TestWatchRunsTheBreachStep: after the tenants, the watch runs the breach
// step with its limit, and reports the step's failure.
func TestWatchRunsTheBreachStep(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		b := &fakeBreach{}
		if fail {
			b.err = errors.New("store down")
		}
		run := deadlinewatch.New(deadlinewatch.Config{Warn: time.Hour, Limit: 10, PerTenant: time.Second},
			deadlinewatch.Deps{Service: &fakeService{}, Tenants: tenants{{ID: "acme"}}, Logger: slog.New(slog.DiscardHandler), Breach: b})
		err := run(context.Background(), trigger.TimerInfo{})
		if b.limit != 10 || (err != nil) != fail {
			t.Errorf("fail=%v: limit %d, error %v", fail, b.limit, err)
		}
	}
}
