package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/privops/privops/shared/breachsend"
)

// The breachsend suite's ledger, claim, expiry and deletion tests.

func testLedger(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	c := newCampaign(t, newTenantID(t))
	putCampaign(t, s, c)
	if _, err := s.AddRecipients(ctx, c.TenantID, c.IncidentID, c.ListID, 1, recipients("a", "b", "c", "d")); err != nil {
		t.Fatal(err)
	}
	retry := sent(c, "b", breachsend.StatusRetry, t0)
	retry.NextAt = t0.Add(time.Minute)
	steps := []struct {
		name string
		es   []breachsend.LedgerEntry
		want []bool
	}{
		{"sent", []breachsend.LedgerEntry{sent(c, "a", breachsend.StatusSent, t0)}, []bool{true}},
		{"sent again is a no-op", []breachsend.LedgerEntry{sent(c, "a", breachsend.StatusSent, t0.Add(time.Second))}, []bool{false}},
		{"a retry, then failed", []breachsend.LedgerEntry{retry}, []bool{true}},
		{"failed", []breachsend.LedgerEntry{sent(c, "b", breachsend.StatusFailed, t0.Add(time.Hour))}, []bool{true}},
		{"a terminal row never changes", []breachsend.LedgerEntry{sent(c, "b", breachsend.StatusSent, t0), sent(c, "a", breachsend.StatusBounced, t0)}, []bool{false, false}},
		{"one row twice in one write", []breachsend.LedgerEntry{sent(c, "c", breachsend.StatusBounced, t0), sent(c, "c", breachsend.StatusSent, t0)}, []bool{true, false}},
		{"a retry then sent in one write", []breachsend.LedgerEntry{sent(c, "d", breachsend.StatusRetry, t0), sent(c, "d", breachsend.StatusSent, t0)}, []bool{true, true}},
	}
	for _, st := range steps {
		got, err := s.Record(ctx, st.es...)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: changed (-want +got):\n%s", st.name, diff)
		}
	}
	got, err := s.GetCampaign(ctx, c.TenantID, c.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(breachsend.Progress{Total: 3, Sent: 2, Failed: 2, Bounced: 1}, got.Progress()); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	ds, err := s.Deliveries(ctx, c.TenantID, c.IncidentID, c.ListID, breachsend.ChannelEmail, 2, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, d := range ds {
		states = append(states, d.Status)
	}
	if diff := cmp.Diff([]string{"sent", "failed", "bounced", "sent"}, states); diff != "" {
		t.Errorf("ledger states (-want +got):\n%s", diff)
	}
	// Another notice version or channel is another row: still pending.
	ds, err = s.Deliveries(ctx, c.TenantID, c.IncidentID, c.ListID, breachsend.ChannelEmail, 3, 1, 1)
	if err != nil || len(ds) != 1 || ds[0].Status != breachsend.StatusPending {
		t.Errorf("version 3: %+v, %v; want one pending", ds, err)
	}
	// A retry row carries its attempts and when it is due.
	d := newCampaign(t, c.TenantID)
	putCampaign(t, s, d)
	if _, err := s.AddRecipients(ctx, d.TenantID, d.IncidentID, d.ListID, 1, recipients("r")); err != nil {
		t.Fatal(err)
	}
	r := sent(d, "r", breachsend.StatusRetry, t0)
	r.Attempts, r.NextAt = 3, t0.Add(4*time.Minute)
	if _, err := s.Record(ctx, r); err != nil {
		t.Fatal(err)
	}
	ds, err = s.Deliveries(ctx, d.TenantID, d.IncidentID, d.ListID, breachsend.ChannelEmail, 2, 1, 1)
	if err != nil || len(ds) != 1 {
		t.Fatalf("retry row: %v, %v", ds, err)
	}
	if ds[0].Status != breachsend.StatusRetry || ds[0].Attempts != 3 || !ds[0].NextAt.Equal(r.NextAt) {
		t.Errorf("retry row: %s, %d attempts, next %v; want retry, 3, %v", ds[0].Status, ds[0].Attempts, ds[0].NextAt, r.NextAt)
	}
}

// testLedgerConcurrent has writers record the same rows at once, as
// redeliveries and instances do: each row changes once, and counts once.
func testLedgerConcurrent(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	c := newCampaign(t, newTenantID(t))
	putCampaign(t, s, c)
	const rows, writers = 20, 4
	var keys []string
	for i := range rows {
		keys = append(keys, fmt.Sprintf("k%02d", i))
	}
	if _, err := s.AddRecipients(ctx, c.TenantID, c.IncidentID, c.ListID, 1, recipients(keys...)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	changes := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rows)
	for w := range writers {
		wg.Go(func() {
			for i := range rows {
				k := keys[(i+w*5)%rows]
				got, err := s.Record(ctx, sent(c, k, breachsend.StatusSent, t0))
				if err != nil {
					errs <- err
					return
				}
				if got[0] {
					mu.Lock()
					changes[k]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent record: %v", err)
	}
	for _, k := range keys {
		if changes[k] != 1 {
			t.Errorf("row %s changed %d times, want once", k, changes[k])
		}
	}
	got, err := s.GetCampaign(ctx, c.TenantID, c.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sent != rows {
		t.Errorf("sent counter %d, want %d", got.Sent, rows)
	}
}

func testClaims(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	c := newCampaign(t, newTenantID(t))
	until := t0.Add(30 * time.Second)
	steps := []struct {
		name  string
		owner string
		now   time.Time
		want  bool
	}{
		{"first claim", "w1", t0, true},
		{"another owner while held", "w2", t0.Add(time.Second), false},
		{"renewal by the holder", "w1", t0.Add(2 * time.Second), true},
		{"another owner once it ran out", "w2", until.Add(2 * time.Second), true},
		{"the old holder, now held by another", "w1", until.Add(3 * time.Second), false},
	}
	for _, st := range steps {
		got, err := s.ClaimBatch(ctx, c.TenantID, c.IncidentID, 7, st.owner, st.now, st.now.Add(30*time.Second))
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got != st.want {
			t.Errorf("%s: holds %v, want %v", st.name, got, st.want)
		}
	}
	if ok, err := s.ClaimBatch(ctx, c.TenantID, c.IncidentID, 8, "w1", t0, until); err != nil || !ok {
		t.Errorf("another batch: %v, %v; want its own claim", ok, err)
	}
	// Releasing a claim one does not hold changes nothing.
	if err := s.ReleaseBatch(ctx, c.TenantID, c.IncidentID, 7, "w1"); err != nil {
		t.Fatal(err)
	}
	now := until.Add(4 * time.Second)
	if ok, err := s.ClaimBatch(ctx, c.TenantID, c.IncidentID, 7, "w3", now, now.Add(time.Second)); err != nil || ok {
		t.Errorf("after a release by a non-holder: %v, %v; want w2 to hold it still", ok, err)
	}
	if err := s.ReleaseBatch(ctx, c.TenantID, c.IncidentID, 7, "w2"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimBatch(ctx, c.TenantID, c.IncidentID, 7, "w3", now, now.Add(time.Second)); err != nil || !ok {
		t.Errorf("after the holder's release: %v, %v; want the claim", ok, err)
	}
	if err := s.ReleaseBatch(ctx, c.TenantID, c.IncidentID, 99, "w3"); err != nil {
		t.Errorf("release a batch never claimed: %v", err)
	}
}

// expiredOf returns what Expired reports for tenantID among everything due.
func expiredOf(tb testing.TB, s breachsend.Store, tenantID string, now time.Time) []breachsend.Due {
	tb.Helper()
	all, err := s.Expired(tb.Context(), now, 100000)
	if err != nil {
		tb.Fatalf("expired: %v", err)
	}
	var out []breachsend.Due
	for _, d := range all {
		if d.TenantID == tenantID {
			out = append(out, d)
		}
	}
	return out
}

func testStagedExpired(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	c := newCampaign(t, newTenantID(t))
	base := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) // before any run's real times
	if err := s.StageList(ctx, c.TenantID, c.IncidentID, "lst_staged", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.StageList(ctx, c.TenantID, c.IncidentID, "lst_staged", base.Add(2*time.Hour)); err != nil {
		t.Fatalf("stage again: %v", err)
	}
	c.ExpiresAt = base.Add(3 * time.Hour)
	putCampaign(t, s, c)
	other := newCampaign(t, c.TenantID) // no expiry: never due
	putCampaign(t, s, other)
	staged := breachsend.Due{TenantID: c.TenantID, IncidentID: c.IncidentID, ListID: "lst_staged", Staged: true}
	own := breachsend.Due{TenantID: c.TenantID, IncidentID: c.IncidentID}
	for _, st := range []struct {
		name string
		now  time.Time
		want []breachsend.Due
	}{
		{"before the staged time (moved by the second StageList)", base.Add(90 * time.Minute), nil},
		{"the staged list", base.Add(2 * time.Hour), []breachsend.Due{staged}},
		{"both, earliest first", base.Add(4 * time.Hour), []breachsend.Due{staged, own}},
	} {
		if diff := cmp.Diff(st.want, expiredOf(t, s, c.TenantID, st.now), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
	}
	if err := s.UnstageList(ctx, c.TenantID, c.IncidentID, "lst_staged"); err != nil {
		t.Fatal(err)
	}
	if err := s.UnstageList(ctx, c.TenantID, c.IncidentID, "lst_staged"); err != nil {
		t.Errorf("unstage again: %v", err)
	}
	got, err := s.GetCampaign(ctx, c.TenantID, c.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	got.PurgedAt = base.Add(5 * time.Hour)
	if err := s.PutCampaign(ctx, got); err != nil {
		t.Fatal(err)
	}
	if d := expiredOf(t, s, c.TenantID, base.Add(6*time.Hour)); len(d) != 0 {
		t.Errorf("after unstaging and purging: %+v, want nothing due", d)
	}
}

func testDeletes(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	c := newCampaign(t, newTenantID(t))
	putCampaign(t, s, c)
	var keys []string
	for i := range 120 {
		keys = append(keys, fmt.Sprintf("d%03d", i))
	}
	if _, err := s.AddRecipients(ctx, c.TenantID, c.IncidentID, c.ListID, 1, recipients(keys...)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddRecipients(ctx, c.TenantID, c.IncidentID, "lst_keep", 1, recipients("x")); err != nil {
		t.Fatal(err)
	}
	var es []breachsend.LedgerEntry
	for _, k := range keys[:5] {
		es = append(es, sent(c, k, breachsend.StatusSent, t0))
	}
	if _, err := s.Record(ctx, es...); err != nil {
		t.Fatal(err)
	}
	var counts []int
	for {
		n, err := s.DeleteList(ctx, c.TenantID, c.IncidentID, c.ListID, 110)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, n)
		if n == 0 || len(counts) > 5 {
			break
		}
	}
	if diff := cmp.Diff([]int{110, 10, 0}, counts); diff != "" {
		t.Errorf("list deletions (-want +got):\n%s", diff)
	}
	if ds, err := s.Deliveries(ctx, c.TenantID, c.IncidentID, "lst_keep", breachsend.ChannelEmail, 2, 1, 10); err != nil || len(ds) != 1 {
		t.Errorf("the other list: %d recipients, %v; want 1", len(ds), err)
	}
	counts = nil
	for {
		n, err := s.DeleteLedger(ctx, c.TenantID, c.IncidentID, 3)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, n)
		if n == 0 || len(counts) > 5 {
			break
		}
	}
	if diff := cmp.Diff([]int{3, 2, 0}, counts); diff != "" {
		t.Errorf("ledger deletions (-want +got):\n%s", diff)
	}
	// The counters stay: the campaign keeps its counts after the purge.
	got, err := s.GetCampaign(ctx, c.TenantID, c.IncidentID)
	if err != nil || got.Sent != 5 {
		t.Errorf("after the purge: %+v, %v; want 5 sent", got, err)
	}
}
