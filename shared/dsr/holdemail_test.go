package dsr_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// TestSubjectHoldSealsItsEmail (issue 12, item 5): a subject hold keeps its
// subject's normalised email sealed, for a retention purge's exclusion list:
// the stored document never holds the address in the clear, the API's
// answer and a replay of the change carry no sealed email, it opens only for
// its own tenant and hold, and a release drops it.
func TestSubjectHoldSealsItsEmail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := dsr.HoldInput{Scope: privacy.HoldSubject, Email: "  Ada.Lovelace@Example.COM ", Reason: "litigation", Category: privacy.HoldLegalClaims}
	h, err := f.svc.PlaceHold(ctx, "acme", in, dsr.Actor{Admin: admin})
	if err != nil {
		t.Fatal(err)
	}
	if h.SealedEmail != "" {
		t.Errorf("the answer carries the sealed email %q", h.SealedEmail)
	}
	tn, err := f.store.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	stored := tn.Holds[len(tn.Holds)-1]
	doc, _ := json.Marshal(tn)
	if stored.SealedEmail == "" || strings.Contains(strings.ToLower(string(doc)), "lovelace") {
		t.Fatalf("stored hold %+v; the document holds the address: %v", stored, strings.Contains(strings.ToLower(string(doc)), "lovelace"))
	}
	if got, ok := f.svc.OpenHoldEmail("acme", &stored); !ok || got != "ada.lovelace@example.com" {
		t.Errorf("OpenHoldEmail = %q, %v; want the normalised address", got, ok)
	}
	moved := stored
	moved.ID = "hold_other"
	for name, try := range map[string]func() (string, bool){
		"another tenant": func() (string, bool) { return f.svc.OpenHoldEmail("globex", &stored) },
		"another hold":   func() (string, bool) { return f.svc.OpenHoldEmail("acme", &moved) },
	} {
		if got, ok := try(); ok {
			t.Errorf("%s opens it: %q", name, got)
		}
	}
	if _, err := f.svc.ReleaseHold(ctx, "acme", h.ID, dsr.Actor{Admin: admin}); err != nil {
		t.Fatal(err)
	}
	tn, _ = f.store.GetTenant(ctx, "acme")
	if released := tn.Holds[len(tn.Holds)-1]; released.SealedEmail != "" {
		t.Errorf("a released hold keeps its sealed email")
	}
}
