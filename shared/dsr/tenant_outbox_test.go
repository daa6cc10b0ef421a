package dsr_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// The tenant document's audit outbox and its read-modify-write changes.

// A crash between a tenant write and its audit appends loses nothing: the
// events wait in the tenant document, the watch appends them once its lease
// has run out, each chain gets each event exactly once.
func TestTenantAuditOutboxSurvivesACrash(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		step string
	}{
		{"after the write, before any append", "tenant-written"},
		{"after the first append (the operator's chain)", "tenant-audit-appended"},
		{"after the appends, before the outbox is cleared", "tenant-outbox-cleared"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newOpFixture(t)
			f.create(t, "acme")
			f.crashAt(t, tc.step, func() { _, _ = f.svc.SuspendTenant(ctx, "acme", "unpaid invoices", operatorActor) })
			tn, err := f.store.GetTenant(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if !tn.Suspended() {
				t.Fatal("the suspension itself was lost")
			}
			if n, err := f.svc.RedriveTenant(ctx, tn); n || err != nil {
				t.Errorf("redrive inside the lease: %t, %v", n, err)
			}
			f.clock.Add(time.Minute + time.Second)
			if tn, err = f.store.GetTenant(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
			wantFlush := tc.step != "tenant-outbox-cleared"
			if n, err := f.svc.RedriveTenant(ctx, tn); n != wantFlush || err != nil {
				t.Errorf("redrive after the lease: %t, %v; want %t", n, err, wantFlush)
			}
			op, own := f.chains(t, "acme")
			if diff := cmp.Diff([]string{"tenant.created", "tenant.suspended"}, op); diff != "" {
				t.Errorf("operator chain (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"tenant.created", "tenant.suspended"}, own); diff != "" {
				t.Errorf("tenant chain (-want +got):\n%s", diff)
			}
			if tn, _ = f.store.GetTenant(ctx, "acme"); len(tn.PendingAudit) != 0 {
				t.Errorf("%d audit events still pending", len(tn.PendingAudit))
			}
			for _, chain := range []string{privacy.OperatorTenant, "acme"} {
				if rep, err := f.svc.VerifyAuditChain(ctx, chain); err != nil || !rep.Valid {
					t.Errorf("chain %s: %+v, %v", chain, rep, err)
				}
			}
		})
	}
}

// The next write of the tenant also carries a leftover outbox out.
func TestTheNextTenantWriteFinishesALeftoverOutbox(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	f.create(t, "acme")
	f.crashAt(t, "tenant-written", func() { _, _ = f.svc.SuspendTenant(ctx, "acme", "unpaid invoices", operatorActor) })
	if _, err := f.svc.ResumeTenant(ctx, "acme", operatorActor); err != nil {
		t.Fatal(err)
	}
	op, _ := f.chains(t, "acme")
	if diff := cmp.Diff([]string{"tenant.created", "tenant.suspended", "tenant.resumed"}, op); diff != "" {
		t.Errorf("operator chain (-want +got):\n%s", diff)
	}
}

// A merge patch without If-Match that loses a race to another write is
// applied again to the newer version: both changes land, nothing is refused.
func TestPatchWithoutIfMatchReappliesAfterAConcurrentWrite(t *testing.T) {
	t.Parallel()
	f := newOpFixture(t)
	f.create(t, "acme")
	calls := 0
	got, err := f.svc.ConfigureWith(ctx, "acme", "", func(cur dsr.TenantSettings) (dsr.TenantSettings, error) {
		calls++
		if calls == 1 { // another admin's write lands between this read and its write
			other := cur
			other.Contact = "dpo@acme.example"
			if _, err := f.svc.Configure(ctx, "acme", "", other, dsr.Actor{Admin: "bob"}); err != nil {
				t.Fatal(err)
			}
		}
		cur.PIPLDays = 15
		return cur, nil
	}, dsr.Actor{Admin: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || got.PIPLDays != 15 || got.Contact != "dpo@acme.example" {
		t.Errorf("after %d runs: piplDays %d, contact %q; want 2 runs, both changes", calls, got.PIPLDays, got.Contact)
	}
	// With If-Match the same race is a 412: the caller's version is gone.
	tn, _ := f.store.GetTenant(ctx, "acme")
	_, err = f.svc.ConfigureWith(ctx, "acme", tn.ETag, func(cur dsr.TenantSettings) (dsr.TenantSettings, error) {
		if _, err := f.svc.Configure(ctx, "acme", "", cur, dsr.Actor{Admin: "bob"}); err != nil {
			t.Fatal(err)
		}
		return cur, nil
	}, dsr.Actor{Admin: "alice"})
	if code(err) != "etag-mismatch" {
		t.Errorf("racing write with If-Match: %v, want etag-mismatch", err)
	}
}
