package dsr_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

func TestOffboardRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tenant, ifMatch string
		choice                privacy.OffboardChoice
		code                  string
	}{
		{"no choice", "acme", "", "", "invalid-offboard-choice"},
		{"unknown choice", "acme", "", "return", "invalid-offboard-choice"},
		{"unknown tenant", "initech", "", privacy.OffboardDelete, "unknown-tenant"},
		{"stale If-Match", "acme", "stale", privacy.OffboardDelete, "etag-mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newOpFixture(t)
			f.create(t, "acme")
			before := f.state(t)
			if _, err := f.svc.OffboardTenant(ctx, tt.tenant, tt.ifMatch, tt.choice, operatorActor); code(err) != tt.code {
				t.Errorf("offboard: %v, want %s", err, tt.code)
			}
			if after := f.state(t); after != before {
				t.Errorf("state changed:\n%s→\n%s", before, after)
			}
		})
	}
}

func TestOffboardingRefusesNewRequestsAuditsAndCancels(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	tn := f.create(t, "acme")
	got, err := f.svc.OffboardTenant(dsr.WithIdempotencyKey(ctx, "k1"), "acme", tn.ETag, privacy.OffboardReturnThenDelete, operatorActor)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	want := &privacy.Offboarding{ID: got.Offboarding.ID, Choice: privacy.OffboardReturnThenDelete, RequestedAt: now, By: "operator:olga",
		PurgeAfter: now.Add(30 * 24 * time.Hour), Previous: privacy.TenantActive}
	if diff := cmp.Diff(want, got.Offboarding); diff != "" || got.Status != privacy.TenantOffboarding {
		t.Errorf("offboarding (-want +got):\n%s; status %s", diff, got.Status)
	}
	// The same key again answers the tenant as it is, and records nothing.
	before := f.state(t)
	again, err := f.svc.OffboardTenant(dsr.WithIdempotencyKey(ctx, "k1"), "acme", tn.ETag, privacy.OffboardReturnThenDelete, operatorActor)
	if err != nil || again.Offboarding.ID != got.Offboarding.ID {
		t.Errorf("replay with the same key: %v %+v", err, again)
	}
	if _, err := f.svc.OffboardTenant(dsr.WithIdempotencyKey(ctx, "k1"), "acme", "", privacy.OffboardDelete, operatorActor); code(err) != "idempotency-key-reused" {
		t.Errorf("the key reused for another choice: %v", err)
	}
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor); code(err) != "tenant-offboarding-already" {
		t.Errorf("second offboarding: %v", err)
	}
	if _, err := f.svc.SuspendTenant(ctx, "acme", "late invoices", operatorActor); code(err) != "tenant-offboarding-already" {
		t.Errorf("suspending an offboarding tenant: %v", err)
	}
	for _, actor := range []dsr.Actor{{}, {Admin: "alice"}} {
		if _, err := f.svc.Submit(ctx, "acme", validSubmission(), "", actor); code(err) != "tenant-offboarding" {
			t.Errorf("new request by %v: %v, want tenant-offboarding", actor, err)
		}
	}
	if after := f.state(t); after != before {
		t.Errorf("refused calls changed the state:\n%s→\n%s", before, after)
	}

	back, err := f.svc.CancelOffboarding(ctx, "acme", "", operatorActor)
	if err != nil || back.Status != privacy.TenantActive || back.Offboarding != nil {
		t.Fatalf("cancel: %v %+v", err, back)
	}
	if _, err := f.svc.CancelOffboarding(ctx, "acme", "", operatorActor); code(err) != "tenant-not-offboarding" {
		t.Errorf("second cancel: %v", err)
	}
	if _, err := f.svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{Admin: "alice"}); err != nil {
		t.Errorf("a new request after the cancel: %v", err)
	}
	op, own := f.chains(t, "acme")
	wantOp := []string{"tenant.created", "tenant.offboarding-requested", "tenant.offboarding-cancelled"}
	if diff := cmp.Diff(wantOp, op); diff != "" {
		t.Errorf("operator chain (-want +got):\n%s", diff)
	}
	var ownTenant []string
	for _, a := range own {
		if a[:7] == "tenant." {
			ownTenant = append(ownTenant, a)
		}
	}
	if diff := cmp.Diff(wantOp, ownTenant); diff != "" {
		t.Errorf("tenant chain's tenant events (-want +got):\n%s", diff)
	}
}

func TestOffboardingOfASuspendedTenantCancelsBackToSuspended(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	f.create(t, "acme")
	if _, err := f.svc.SuspendTenant(ctx, "acme", "late invoices", operatorActor); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor); err != nil {
		t.Fatal(err)
	}
	back, err := f.svc.CancelOffboarding(ctx, "acme", "", operatorActor)
	if err != nil || back.Status != privacy.TenantSuspended || back.Suspension == nil {
		t.Errorf("cancel: %v, status %s", err, back.Status)
	}
}

func TestCancelAfterThePurgeStartedIsRefused(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	f.create(t, "acme")
	tn, err := f.svc.OffboardTenant(ctx, "acme", "", privacy.OffboardDelete, operatorActor)
	if err != nil {
		t.Fatal(err)
	}
	tn.Offboarding.Purge = &privacy.OffboardPurge{StartedAt: f.clock.Now(), Found: map[string]int{}}
	if err := f.store.UpdateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	before := f.state(t)
	if _, err := f.svc.CancelOffboarding(ctx, "acme", "", operatorActor); code(err) != "offboarding-purge-started" {
		t.Errorf("cancel after the purge started: %v", err)
	}
	if after := f.state(t); after != before {
		t.Errorf("state changed:\n%s→\n%s", before, after)
	}
}
