package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
)

// incidentOf tells this suite's incidents from other suites' on a shared store.
const incidentOf = "purge"

// TenantData is what the offboarding purge needs of a store adapter beside
// privacy.Store and privacy.InboundLog (offboard.Data declares the same).
type TenantData interface {
	privacy.Store
	privacy.InboundLog
	CountTenantData(ctx context.Context, tenantID, kind string) (int, error)
	PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error)
	DeleteTenant(ctx context.Context, tenantID string) error
}

// dataKinds are the kinds every adapter counts and purges.
var dataKinds = []string{privacy.DataKindRequests, privacy.DataKindInbound, privacy.DataKindItems, privacy.DataKindAudit,
	privacy.DataKindBreachNotices}

// RunTenantData runs the conformance suite of the offboarding purge: a
// tenant's documents are counted and deleted kind by kind, a bounded batch
// at a time, until none is left, and another tenant's are never touched.
// When s also stores data items (privacy.DataItems), they are seeded too, in
// the "people" container the tenant's service names (Cosmos needs it made).
// When it stores breach documents (breach.Store), each tenant gets notices,
// and an operator incident names both tenants: the purge deletes the
// tenant's notices and never the incident (the processor's own record, GDPR
// Art. 33(5)).
func RunTenantData(t *testing.T, s TenantData) {
	t.Helper()
	t.Run("purge-tenant-data", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		seed := func(tenant string) map[string]int {
			t.Helper()
			requireNoError(t, s.CreateTenant(ctx, fullTenant(tenant)), "create tenant")
			want := map[string]int{privacy.DataKindRequests: 5, privacy.DataKindInbound: 3, privacy.DataKindAudit: 7, privacy.DataKindItems: 0,
				privacy.DataKindBreachNotices: 0}
			if bs, ok := s.(breach.Store); ok {
				want[privacy.DataKindBreachNotices] = 3
				for i := range 3 {
					requireNoError(t, bs.CreateNotice(ctx, notice(tenant, fmt.Sprintf("inc-%s-%d", incidentOf, i), t0.Add(time.Duration(i)*time.Minute))), "create notice")
				}
			}
			for i := range want[privacy.DataKindRequests] {
				createRequest(t, s, fullRequest(tenant, newRequestID(t), t0.Add(time.Duration(i)*time.Minute)))
			}
			for i := range want[privacy.DataKindInbound] {
				createInbound(t, s, fullInbound(tenant, newInboundID(t), t0.Add(time.Duration(i)*time.Second), future()))
			}
			for i := range want[privacy.DataKindAudit] {
				requireNoError(t, s.AppendAudit(ctx, auditEvent(tenant, i)), "append audit")
			}
			if items, ok := s.(privacy.DataItems); ok {
				// In the data container the tenant's service names (people).
				want[privacy.DataKindItems] = 4
				for i := range 4 {
					item, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("item-%d", i), "email": "a@example.com"})
					requireNoError(t, items.PutItem(ctx, tenant, "people", item), "put item")
				}
			}
			return want
		}
		counts := func(tenant string) map[string]int {
			t.Helper()
			got := map[string]int{}
			for _, kind := range dataKinds {
				n, err := s.CountTenantData(ctx, tenant, kind)
				requireNoError(t, err, "count "+kind)
				got[kind] = n
			}
			return got
		}
		a, b := newTenantID(t), newTenantID(t)
		wantA, wantB := seed(a), seed(b)
		var inc *breach.Incident
		if bs, ok := s.(breach.Store); ok {
			inc = fullIncident("inc-" + incidentOf + "-" + a)
			inc.Tenants, inc.Pending, inc.ReportTenant = []string{a, b}, nil, a
			requireNoError(t, bs.CreateIncident(ctx, inc), "create incident")
		}
		if diff := cmp.Diff(wantA, counts(a)); diff != "" {
			t.Fatalf("counts of the tenant before the purge (-want +got):\n%s", diff)
		}
		purgeInBatches(t, s, a, dataKinds, wantA, counts)
		requireNoError(t, s.DeleteTenant(ctx, a), "delete tenant")
		requireNoError(t, s.DeleteTenant(ctx, a), "delete an absent tenant")
		_, err := s.GetTenant(ctx, a)
		requireErrorIs(t, err, privacy.ErrNotFound, "get a deleted tenant")
		page, err := s.ListRequests(ctx, a, privacy.RequestFilter{})
		requireNoError(t, err, "list requests of the purged tenant")
		if len(page.Requests) != 0 {
			t.Errorf("the purged tenant still lists %d requests", len(page.Requests))
		}
		evs, err := s.ListAudit(ctx, a, 0, 100)
		requireNoError(t, err, "list audit of the purged tenant")
		if len(evs) != 0 {
			t.Errorf("the purged tenant still has %d audit events", len(evs))
		}

		if bs, ok := s.(breach.Store); ok {
			page, err := bs.ListNotices(ctx, a, "", 100)
			requireNoError(t, err, "list notices of the purged tenant")
			if len(page.Notices) != 0 {
				t.Errorf("the purged tenant still lists %d notices", len(page.Notices))
			}
			got, err := bs.GetIncident(ctx, inc.ID)
			requireNoError(t, err, "the incident naming the purged tenant")
			if diff := cmp.Diff([]string{a, b}, got.Tenants); diff != "" {
				t.Errorf("the incident's tenants (-want +got):\n%s", diff)
			}
			page, err = bs.ListNotices(ctx, b, "", 100)
			requireNoError(t, err, "list notices of the other tenant")
			if len(page.Notices) != 3 {
				t.Errorf("the other tenant lists %d notices, want 3", len(page.Notices))
			}
		}

		// The other tenant is whole, and its chain still verifies.
		if diff := cmp.Diff(wantB, counts(b)); diff != "" {
			t.Errorf("counts of the other tenant after the purge (-want +got):\n%s", diff)
		}
		if _, err := s.GetTenant(ctx, b); err != nil {
			t.Errorf("the other tenant's document: %v", err)
		}
		evs, err = s.ListAudit(ctx, b, 0, 100)
		requireNoError(t, err, "list audit of the other tenant")
		if br := privacy.VerifyChain(0, "", evs); br != nil || len(evs) != wantB[privacy.DataKindAudit] {
			t.Errorf("the other tenant's chain: %d events, break %+v", len(evs), br)
		}
	})
}

// TenantMessages is what the offboarding purge needs of the built-in queue.
type TenantMessages interface {
	privacy.Publisher
	CountTenantMessages(ctx context.Context, tenantID string) (int, error)
	PurgeTenantMessages(ctx context.Context, tenantID string, limit int) (int, error)
}

// RunTenantMessages checks that a tenant's queue messages, in any queue,
// are counted and deleted in bounded batches, and no other tenant's.
func RunTenantMessages(t *testing.T, q TenantMessages) {
	t.Helper()
	t.Run("purge-tenant-messages", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		a, b := newTenantID(t), newTenantID(t)
		publish := func(queue, tenant string, n int) {
			t.Helper()
			for i := range n {
				body, _ := json.Marshal(map[string]string{"specversion": "1.0", "tenantid": tenant, "id": fmt.Sprintf("%s-%d", tenant, i)})
				requireNoError(t, q.Publish(ctx, queue, privacy.OutMessage{ID: fmt.Sprintf("%s-%s-%d", queue, tenant, i), Body: body}), "publish")
			}
		}
		publish("purge-one", a, 3)
		publish("purge-two", a, 2)
		publish("purge-one", b, 4)
		requireNoError(t, q.Publish(ctx, "purge-one", privacy.OutMessage{ID: "not-json-" + a, Body: []byte("not json")}), "publish")
		count := func(tenant string) int {
			n, err := q.CountTenantMessages(ctx, tenant)
			requireNoError(t, err, "count messages")
			return n
		}
		if got := count(a); got != 5 {
			t.Fatalf("messages of the tenant: %d, want 5", got)
		}
		deleted := 0
		for range 10 {
			n, err := q.PurgeTenantMessages(ctx, a, 2)
			requireNoError(t, err, "purge messages")
			if n == 0 {
				break
			}
			deleted += n
		}
		if deleted != 5 || count(a) != 0 || count(b) != 4 {
			t.Errorf("purged %d messages, left %d of the tenant and %d of the other; want 5, 0, 4", deleted, count(a), count(b))
		}
	})
}

// purgeInBatches purges tenant's data kind by kind, at most two documents a
// call, until a call deletes none; each kind must lose exactly want[kind],
// and counts must then find none of kinds left.
func purgeInBatches(t *testing.T, s interface {
	PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error)
}, tenant string, kinds []string, want map[string]int, counts func(string) map[string]int) {
	t.Helper()
	for _, kind := range kinds {
		deleted := 0
		for range 20 {
			n, err := s.PurgeTenantData(t.Context(), tenant, kind, 2)
			requireNoError(t, err, "purge "+kind)
			if n > 2 {
				t.Fatalf("purge %s with limit 2 deleted %d", kind, n)
			}
			if n == 0 {
				break
			}
			deleted += n
		}
		if deleted != want[kind] {
			t.Errorf("purge %s deleted %d in all, want %d", kind, deleted, want[kind])
		}
	}
	zero := map[string]int{}
	for _, kind := range kinds {
		zero[kind] = 0
	}
	if diff := cmp.Diff(zero, counts(tenant)); diff != "" {
		t.Errorf("counts of the purged tenant (-want +got):\n%s", diff)
	}
}
