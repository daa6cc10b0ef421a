package dsr_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// TestSigningVersionRollout: a new webhook service signs with separated keys
// (version 2); a stored legacy service (no version) stays on version 1 when
// it is updated without one, and moves to 2 when the update says so.
func TestSigningVersionRollout(t *testing.T) {
	t.Parallel()
	f := newTaskFixture(t)
	webhookSvc := func(id string, v int) privacy.Service {
		return privacy.Service{ID: id, Name: "Svc", Kind: privacy.KindWebhook, Actions: []privacy.Action{privacy.ActionErase},
			Categories: []privacy.Category{"profile"}, Identifiers: []string{"email"}, URL: "https://" + id + ".example.com/dsr", SigningVersion: v}
	}
	put := func(in privacy.Service) int {
		t.Helper()
		out, _, err := f.svc.PutService(ctx, "acme", in, dsr.Actor{Admin: admin})
		if err != nil {
			t.Fatal(err)
		}
		return out.SigningVersion
	}
	// A service stored before signing versions existed.
	put(webhookSvc("legacy", 0))
	tn, err := f.store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	tn.Service("legacy").SigningVersion = 0
	if err := f.store.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}

	got := map[string]int{
		"new service":                        put(webhookSvc("fresh", 0)),
		"new service asking for version 1":   put(webhookSvc("old-style", 1)),
		"legacy service updated, no version": put(webhookSvc("legacy", 0)),
	}
	got["legacy service migrated to 2"] = put(webhookSvc("legacy", 2))
	got["migrated service updated, no version"] = put(webhookSvc("legacy", 0))
	want := map[string]int{
		"new service": 2, "new service asking for version 1": 1, "legacy service updated, no version": 0,
		"legacy service migrated to 2": 2, "migrated service updated, no version": 2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("signing versions (-want +got):\n%s", diff)
	}
	bad := webhookSvc("broken", 3)
	if _, _, err := f.svc.PutService(ctx, "acme", bad, dsr.Actor{Admin: admin}); err == nil {
		t.Error("signingVersion 3 accepted")
	}
}
