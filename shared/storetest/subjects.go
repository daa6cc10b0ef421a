package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// TenantSubjects is what the offboarding purge needs of the data-subject
// fan-out's store (offboard.Subjects declares the count and purge).
type TenantSubjects interface {
	breachsend.Store
	CountTenantData(ctx context.Context, tenantID, kind string) (int, error)
	PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error)
}

// subjectKinds are the fan-out's kinds, in the purge's order.
var subjectKinds = []string{privacy.DataKindBreachRecipients, privacy.DataKindBreachLedger, privacy.DataKindBreachCampaigns}

// RunTenantSubjects runs the conformance suite of the offboarding purge of a
// tenant's breach campaigns: recipient lists (staged ones included), ledger
// rows, campaigns and batch claims are counted and deleted kind by kind, a
// bounded batch at a time, and another tenant's lists, ledger and campaigns
// are never touched.
func RunTenantSubjects(t *testing.T, s TenantSubjects) {
	t.Helper()
	t.Run("purge-tenant-subjects", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		seed := func(tenant string) map[string]int {
			t.Helper()
			for _, inc := range []string{"inc-1", "inc-2"} {
				c := &breachsend.Campaign{TenantID: tenant, IncidentID: inc, State: breachsend.StateSending, ListID: "list-" + inc, Total: 3}
				requireNoError(t, s.PutCampaign(ctx, c), "put campaign")
				rs := make([]breachsend.Recipient, 3)
				for i := range rs {
					rs[i] = breachsend.Recipient{Key: fmt.Sprintf("k%d", i), Email: fmt.Sprintf("r%d@example.com", i), Language: "en"}
				}
				_, err := s.AddRecipients(ctx, tenant, inc, c.ListID, 1, rs)
				requireNoError(t, err, "add recipients")
				_, err = s.Record(ctx, breachsend.LedgerEntry{TenantID: tenant, IncidentID: inc, RecipientKey: "k0", Channel: breachsend.ChannelEmail,
					Version: 1, Status: breachsend.StatusSent, Attempts: 1, At: t0, MailID: "m"})
				requireNoError(t, err, "record")
			}
			requireNoError(t, s.StageList(ctx, tenant, "inc-1", "staged", t0.Add(time.Hour)), "stage list")
			ok, err := s.ClaimBatch(ctx, tenant, "inc-1", 0, "owner", t0, t0.Add(time.Minute))
			requireNoError(t, err, "claim batch")
			if !ok {
				t.Fatal("claim of a free batch refused")
			}
			// Recipients: 6 rows and 1 staged record; ledger: 2 rows;
			// campaigns: 2 documents and 1 claim.
			return map[string]int{privacy.DataKindBreachRecipients: 7, privacy.DataKindBreachLedger: 2, privacy.DataKindBreachCampaigns: 3}
		}
		counts := func(tenant string) map[string]int {
			t.Helper()
			got := map[string]int{}
			for _, kind := range subjectKinds {
				n, err := s.CountTenantData(ctx, tenant, kind)
				requireNoError(t, err, "count "+kind)
				got[kind] = n
			}
			return got
		}
		a, b := newTenantID(t), newTenantID(t)
		wantA, wantB := seed(a), seed(b)
		if diff := cmp.Diff(wantA, counts(a)); diff != "" {
			t.Fatalf("counts of the tenant before the purge (-want +got):\n%s", diff)
		}
		if ids, err := s.TenantCampaigns(ctx, a, breachsend.StateSending); err != nil || !cmp.Equal(ids, []string{"inc-1", "inc-2"}) {
			t.Errorf("sending campaigns: %v %v", ids, err)
		}
		if n, err := s.LiveClaims(ctx, a, t0); err != nil || n != 1 {
			t.Errorf("live claims: %d %v, want 1", n, err)
		}
		if n, err := s.LiveClaims(ctx, a, t0.Add(time.Minute)); err != nil || n != 0 {
			t.Errorf("live claims once run out: %d %v, want 0", n, err)
		}
		purgeInBatches(t, s, a, subjectKinds, wantA, counts)
		_, err := s.GetCampaign(ctx, a, "inc-1")
		requireErrorIs(t, err, privacy.ErrNotFound, "get a purged campaign")
		if _, err := s.PurgeTenantData(ctx, a, "no-such-kind", 2); err == nil {
			t.Error("purge of an unknown kind: no error")
		}

		// The other tenant is whole: its lists, ledger and campaigns.
		if diff := cmp.Diff(wantB, counts(b)); diff != "" {
			t.Errorf("counts of the other tenant after the purge (-want +got):\n%s", diff)
		}
		c, err := s.GetCampaign(ctx, b, "inc-1")
		requireNoError(t, err, "the other tenant's campaign")
		if c.Sent != 1 || c.State != breachsend.StateSending {
			t.Errorf("the other tenant's campaign: %+v", c)
		}
		ds, err := s.Deliveries(ctx, b, "inc-1", "list-inc-1", breachsend.ChannelEmail, 1, 1, 3)
		requireNoError(t, err, "the other tenant's deliveries")
		if len(ds) != 3 || ds[0].Status != breachsend.StatusSent {
			t.Errorf("the other tenant's deliveries: %+v", ds)
		}
	})
}
