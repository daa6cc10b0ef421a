package cosmos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/storetest"
)

// TestBreachSendStore runs the breachsend.Store conformance suite against
// Cosmos DB (the emulator in CI; skipped without an endpoint, as every Cosmos
// test here).
func TestBreachSendStore(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.RunBreachSend(t, func(testing.TB) breachsend.Store { return s.BreachSend() })
}

// TestBreachSendRoundTrips counts the HTTP calls of each fan-out store call
// against the emulator (the README's per-recipient round trips come from
// here) and fails if one changes.
func TestBreachSendRoundTrips(t *testing.T) {
	t.Parallel()
	s, rec := newTestStore(t)
	b := s.BreachSend()
	ctx := t.Context()
	tenant := "bs-rt-" + randomID(t)
	c := &breachsend.Campaign{TenantID: tenant, IncidentID: "inc-1", State: breachsend.StateReady, ListID: "lst_1"}
	t0 := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	var rs []breachsend.Recipient
	for i := range 1000 {
		rs = append(rs, breachsend.Recipient{Key: fmt.Sprintf("k%04d", i), Email: fmt.Sprintf("r%d@example.com", i), Language: "en"})
	}
	entry := func(i int) breachsend.LedgerEntry {
		return breachsend.LedgerEntry{TenantID: tenant, IncidentID: "inc-1", RecipientKey: rs[i].Key, Channel: breachsend.ChannelEmail,
			Version: 1, Status: breachsend.StatusSent, Attempts: 1, At: t0, MailID: "m"}
	}
	group := func(from, n int) []breachsend.LedgerEntry {
		var es []breachsend.LedgerEntry
		for i := range n {
			es = append(es, entry(from+i))
		}
		return es
	}
	steps := []struct {
		name string
		run  func() error
		want map[string]int
	}{
		{"create the campaign with its counters", func() error { return b.PutCampaign(ctx, c) }, map[string]int{kindBatch: 1}},
		{"add 1,000 recipients", func() error { _, err := b.AddRecipients(ctx, tenant, "inc-1", "lst_1", 1, rs); return err },
			map[string]int{kindQuery: 1, kindBatch: 10}},
		{"read a batch of 500 with its ledger", func() error {
			ds, err := b.Deliveries(ctx, tenant, "inc-1", "lst_1", breachsend.ChannelEmail, 1, 1, 500)
			if err == nil && len(ds) != 500 {
				err = fmt.Errorf("%d deliveries", len(ds))
			}
			return err
		}, map[string]int{kindQuery: 2}},
		{"record one sent mail", func() error { _, err := b.Record(ctx, entry(0)); return err }, map[string]int{kindQuery: 1, kindBatch: 1}},
		{"record a group of 64", func() error { _, err := b.Record(ctx, group(1, 64)...); return err }, map[string]int{kindQuery: 1, kindBatch: 1}},
		{"claim a batch", func() error {
			_, err := b.ClaimBatch(ctx, tenant, "inc-1", 0, "w", t0, t0.Add(time.Minute))
			return err
		}, map[string]int{kindPointRead: 1, kindCreate: 1}},
		{"renew the claim", func() error {
			_, err := b.ClaimBatch(ctx, tenant, "inc-1", 0, "w", t0, t0.Add(time.Minute))
			return err
		}, map[string]int{kindPointRead: 1, kindReplace: 1}},
		{"progress", func() error { _, err := b.GetCampaign(ctx, tenant, "inc-1"); return err }, map[string]int{kindPointRead: 2}},
	}
	for _, st := range steps {
		rec.take()
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		calls := rec.take()
		t.Logf("%s: %s", st.name, describe(calls))
		if diff := cmp.Diff(st.want, count(calls, false)); diff != "" {
			t.Errorf("%s: calls (-want +got):\n%s", st.name, diff)
		}
	}
	got, err := b.GetCampaign(ctx, tenant, "inc-1")
	if err != nil || got.Sent != 65 {
		t.Errorf("sent %+v, %v; want 65", got, err)
	}
}

// TestBreachSendBatchIsAtomic checks the property the adapter's transactional
// batches rely on: an operation that fails undoes the ones before it.
func TestBreachSendBatchIsAtomic(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	if emulated() {
		t.Skip("emulator deviation: @vercel/cosmosdb-server applies a transactional batch's operations before the " +
			"failing one and does not roll them back (real Cosmos does); the adapter orders its batches for it (see Record)")
	}
	b := s.BreachSend()
	ctx := t.Context()
	tenant := "bs-atomic-" + randomID(t)
	if _, err := b.AddRecipients(ctx, tenant, "inc-1", "lst_1", 1, []breachsend.Recipient{{Key: "b", Email: "b@example.com"}}); err != nil {
		t.Fatal(err)
	}
	pk := azcosmos.NewPartitionKeyString(tenant)
	batch := b.c.NewTransactionalBatch(pk)
	batch.CreateItem([]byte(`{"id":"atomic-a","tenantId":"`+tenant+`","docType":"x"}`), nil)
	exists, _ := json.Marshal(map[string]string{"id": recipientID("inc-1", "lst_1", "b"), "tenantId": tenant})
	batch.CreateItem(exists, nil)
	if _, err := b.execute(ctx, batch); !errors.Is(err, privacy.ErrConflict) {
		t.Fatalf("batch with a conflicting create: %v, want ErrConflict", err)
	}
	if _, err := b.c.ReadItem(ctx, pk, "atomic-a", nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("the batch's first create: %v, want it rolled back (404)", err)
	}
}

// TestBreachSendThrottledBatchIsRetried: a transactional batch throttled by
// Cosmos (429, refused before it ran) is retried by the SDK's policy, and the
// ledger write it carries is made once.
func TestBreachSendThrottledBatchIsRetried(t *testing.T) {
	t.Parallel()
	s, rec := newTestStore(t)
	b := s.BreachSend()
	ctx := t.Context()
	tenant := "bs-429-" + randomID(t)
	c := &breachsend.Campaign{TenantID: tenant, IncidentID: "inc-1", State: breachsend.StateSending, ListID: "lst_1"}
	if err := b.PutCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	throttles := 2
	rec.setFault(func(kind string, r *http.Request) *http.Response {
		mu.Lock()
		defer mu.Unlock()
		if kind == kindBatch && throttles > 0 {
			throttles--
			return throttled(r, 10*time.Millisecond)
		}
		return nil
	})
	rec.take()
	got, err := b.Record(ctx, breachsend.LedgerEntry{TenantID: tenant, IncidentID: "inc-1", RecipientKey: "k", Channel: breachsend.ChannelEmail,
		Version: 1, Status: breachsend.StatusSent, Attempts: 1, At: time.Now().UTC(), MailID: "m"})
	if err != nil || !got[0] {
		t.Fatalf("record through two 429s: %v, %v", got, err)
	}
	if diff := cmp.Diff(map[string]int{"query 200": 1, "batch 429": 2, "batch 200": 1}, count(rec.take(), true)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if c, err := b.GetCampaign(ctx, tenant, "inc-1"); err != nil || c.Sent != 1 {
		t.Errorf("sent %+v, %v; want 1", c, err)
	}
}

// TestTenantSubjectsPurge runs the offboarding purge's conformance suite for
// the fan-out's documents against Cosmos DB.
func TestTenantSubjectsPurge(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.RunTenantSubjects(t, s.BreachSend())
}
