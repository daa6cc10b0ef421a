package inmem_test

import (
	"context"
	"testing"
	"time"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/queuetest"
	"github.com/privops/privops/shared/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(testing.TB) privacy.Store { return inmem.NewStore() })
}

func TestQueue(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(_ testing.TB, now func() time.Time) queuetest.Queue {
		return suiteQueue{inmem.NewQueue(inmem.QueueOptions{Now: now, MaxDeliveries: queuetest.MaxDeliveries,
			DedupeWindow: queuetest.DedupeWindow})}
	})
}

// suiteQueue gives the queue the suite's dead-letter view.
type suiteQueue struct{ *inmem.Queue }

func (q suiteQueue) DeadLetters(ctx context.Context, queue string, limit int) ([]queuetest.DeadLetter, error) {
	dls, err := q.Queue.DeadLetters(ctx, queue, limit)
	out := make([]queuetest.DeadLetter, 0, len(dls))
	for _, d := range dls {
		out = append(out, queuetest.DeadLetter{ID: d.ID, Body: d.Body, DeliveryCount: d.DeliveryCount,
			EnqueuedAt: d.EnqueuedAt, DeadAt: d.DeadAt, Reason: d.Reason, ContentType: d.ContentType, Properties: d.Properties})
	}
	return out, err
}

func TestInbound(t *testing.T) {
	t.Parallel()
	storetest.RunInbound(t, func(testing.TB) privacy.InboundLog { return inmem.NewStore() })
}

func TestBreachStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.RunBreach(t, func(testing.TB) breach.Store { return inmem.NewStore() })
}

func TestTenantDataConformance(t *testing.T) {
	t.Parallel()
	storetest.RunTenantData(t, inmem.NewStore())
	storetest.RunTenantMessages(t, inmem.NewQueue(inmem.QueueOptions{}))
}
