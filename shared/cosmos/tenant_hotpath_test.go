package cosmos

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
)

// TestTenantLifecycleRoundTrips counts the Cosmos round trips of the
// operator's tenant operations (see hotpath_test.go for what is counted). A
// create is the tenant's create with its audit outbox, one append to the
// operator's chain (steady state: its head exists), the first append to the
// new tenant's own chain, and the clearing write: 9 round trips, no query.
// The operator's chain is one partition for every tenant: only this test
// writes it in the test database, so its head is steady after the warm-up.
func TestTenantLifecycleRoundTrips(t *testing.T) {
	t.Parallel()
	s, rec := newTestStore(t)
	ctx := t.Context()
	svc := newService(t, s, inmem.NewQueue(inmem.QueueOptions{}), &mailbox{})
	op := dsr.Actor{Operator: "olga"}
	if _, err := svc.CreateTenant(ctx, dsr.NewTenant{ID: "warm-" + randomID(t), TenantSettings: dsr.TenantSettings{Name: "Warm-up"}}, op); err != nil {
		t.Fatal(err)
	}
	rec.take()
	id := "op-" + randomID(t)
	firstAppend := map[string]int{"point-read audit": 2, "create audit": 1}
	steps := []struct {
		name string
		run  func(t *testing.T)
		want map[string]int
	}{
		{"create a tenant (operator API, privops tenant create)", func(t *testing.T) {
			if _, err := svc.CreateTenant(ctx, dsr.NewTenant{ID: id, TenantSettings: dsr.TenantSettings{Name: "Round Trip Ltd"}}, op); err != nil {
				t.Fatal(err)
			}
		}, plus(map[string]int{"create tenants": 1, "replace tenants": 1}, auditAppend, firstAppend)},
		{"suspend it", func(t *testing.T) {
			if _, err := svc.SuspendTenant(ctx, id, "round trips", op); err != nil {
				t.Fatal(err)
			}
		}, plus(map[string]int{"point-read tenants": 1, "replace tenants": 2}, auditAppend, auditAppend)},
		{"read it", func(t *testing.T) {
			if _, err := svc.Tenant(ctx, id); err != nil {
				t.Fatal(err)
			}
		}, map[string]int{"point-read tenants": 1}},
	}
	for _, step := range steps {
		step.run(t)
		calls := rec.take()
		if d := cmp.Diff(step.want, tally(calls)); d != "" {
			t.Errorf("%s: round trips (-want +got):\n%s", step.name, d)
		}
		for _, c := range calls {
			if c.Kind == kindCrossQuery || c.Kind == kindQuery {
				t.Errorf("%s: a query (%s on %s)", step.name, c.Kind, c.Container)
			}
		}
		t.Logf("%-55s %d round trips: %s", step.name, len(calls), describe(calls))
	}
}
