package sqlite

import (
	"errors"
	"testing"

	"github.com/privops/privops/shared/privacy"
)

// TestTenantETagFollowsEveryWrite: the ETag read is the ETag of the stored
// document after a create and after each update, and an absent tenant is
// ErrNotFound (shared/dsr keeps decoded tenants on the strength of it).
func TestTenantETagFollowsEveryWrite(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{}).Store()
	ctx := t.Context()
	if _, err := s.TenantETag(ctx, "acme"); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("absent tenant: %v, want ErrNotFound", err)
	}
	tn := &privacy.Tenant{ID: "acme", Name: "Acme"}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 3 {
		got, err := s.TenantETag(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.GetTenant(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if got != stored.ETag || got != tn.ETag || seen[got] {
			t.Fatalf("write %d: ETag read %q, stored %q, written %q (seen before: %v)", i, got, stored.ETag, tn.ETag, seen[got])
		}
		seen[got] = true
		tn.Contact = "privacy@acme.example"
		if err := s.UpdateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
}
