package dsr_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
)

// An operator whose onboarding answer was lost (a timeout, a crash) sends
// the create again with the same Idempotency-Key and gets the tenant back,
// not 409 tenant-exists; nothing is written or audited twice. The key with
// another body, without a key, or another operator's key is refused.
func TestCreateTenantWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	acme := dsr.NewTenant{ID: "acme", TenantSettings: dsr.TenantSettings{Name: "Acme Ltd"}}
	keyed := dsr.WithIdempotencyKey(ctx, "onboard-acme-1")
	first, err := f.svc.CreateTenant(keyed, acme, operatorActor)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.CreateTenant(keyed, acme, operatorActor)
	if err != nil {
		t.Fatalf("the same create with the same key: %v", err)
	}
	if again.ID != "acme" || again.Name != "Acme Ltd" || again.ETag != first.ETag {
		t.Errorf("replay answered %s %q etag %q, want the stored tenant (etag %q)", again.ID, again.Name, again.ETag, first.ETag)
	}
	other := acme
	other.Name = "Someone Else"
	cases := []struct {
		name  string
		call  func() error
		wantC string
	}{
		{"same key, another body", func() error { _, err := f.svc.CreateTenant(keyed, other, operatorActor); return err }, "idempotency-key-reused"},
		{"no key", func() error { _, err := f.svc.CreateTenant(ctx, acme, operatorActor); return err }, "tenant-exists"},
		{"another operator's key", func() error {
			_, err := f.svc.CreateTenant(keyed, acme, dsr.Actor{Operator: "someone-else"})
			return err
		}, "tenant-exists"},
	}
	for _, c := range cases {
		if got := code(c.call()); got != c.wantC {
			t.Errorf("%s: %q, want %q", c.name, got, c.wantC)
		}
	}
	operator, own := f.chains(t, "acme")
	if diff := cmp.Diff([]string{"tenant.created"}, operator); diff != "" {
		t.Errorf("operator chain (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tenant.created"}, own); diff != "" {
		t.Errorf("tenant chain (-want +got):\n%s", diff)
	}
	stored, _ := f.store.GetTenant(ctx, "acme")
	if stored.Name != "Acme Ltd" || stored.ETag != first.ETag {
		t.Errorf("stored %q etag %q: the refused calls changed it", stored.Name, stored.ETag)
	}
}
