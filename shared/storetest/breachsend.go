package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// RunBreachSend runs the conformance suite of the breachsend.Store port:
// campaigns and their ETags, counters kept apart from the campaign's writes,
// recipient numbering and dedupe, the ledger's write-once terminal rows and
// their counting (also under concurrent writers), batch claims, staged lists,
// the watch's Expired and the deletions. newStore may share one backend: the
// suite uses random tenant ids, and reads Expired's answer for its own only.
func RunBreachSend(t *testing.T, newStore func(tb testing.TB) breachsend.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s breachsend.Store)
	}{
		{"CampaignRoundTrip", testCampaignRoundTrip},
		{"TenantIsolation", testBreachSendIsolation},
		{"RecipientsNumberedAndDeduplicated", testRecipients},
		{"LedgerTerminalRowsAreFinal", testLedger},
		{"LedgerConcurrentWriters", testLedgerConcurrent},
		{"Claims", testClaims},
		{"StagedAndExpired", testStagedExpired},
		{"DeleteListAndLedger", testDeletes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newStore(t))
		})
	}
}

func newCampaign(tb testing.TB, tenantID string) *breachsend.Campaign {
	tb.Helper()
	return &breachsend.Campaign{TenantID: tenantID, IncidentID: "inc-" + randomHex(tb, 4), State: breachsend.StateReady,
		ListID: "lst_" + randomHex(tb, 4), Total: 3, UploadedAt: t0, Duplicates: 1}
}

// putCampaign creates c and fails tb if it cannot.
func putCampaign(tb testing.TB, s breachsend.Store, c *breachsend.Campaign) {
	tb.Helper()
	if err := s.PutCampaign(tb.Context(), c); err != nil {
		tb.Fatalf("create campaign: %v", err)
	}
	if c.ETag == "" {
		tb.Fatal("create campaign: no ETag set")
	}
}

func recipients(keys ...string) []breachsend.Recipient {
	out := make([]breachsend.Recipient, len(keys))
	for i, k := range keys {
		out[i] = breachsend.Recipient{Key: k, Email: k + "@example.com", Language: "en", Name: "N " + k, Identifier: "id-" + k}
	}
	return out
}

func sent(c *breachsend.Campaign, key, status string, at time.Time) breachsend.LedgerEntry {
	return breachsend.LedgerEntry{TenantID: c.TenantID, IncidentID: c.IncidentID, RecipientKey: key, Channel: breachsend.ChannelEmail,
		Version: 2, Status: status, Attempts: 1, At: at, MailID: "breach-" + key}
}

func testCampaignRoundTrip(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	c := newCampaign(t, newTenantID(t))
	if _, err := s.GetCampaign(ctx, c.TenantID, c.IncidentID); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("get an absent campaign: %v, want ErrNotFound", err)
	}
	c.Subject = map[string]string{"en": "Notice", "zh-CN": "通知"}
	c.Text = map[string]string{"en": "What happened"}
	c.ExpiresAt = t0.Add(30 * 24 * time.Hour)
	putCampaign(t, s, c)
	got, err := s.GetCampaign(ctx, c.TenantID, c.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got, diffOpts); diff != "" {
		t.Errorf("campaign after create (-want +got):\n%s", diff)
	}
	if err := s.PutCampaign(ctx, &breachsend.Campaign{TenantID: c.TenantID, IncidentID: c.IncidentID}); !errors.Is(err, privacy.ErrConflict) {
		t.Errorf("create an existing campaign: %v, want ErrConflict", err)
	}
	stale := *got
	got.State, got.StartedBy, got.NoticeVersion = breachsend.StateSending, "admin:a", 2
	if err := s.PutCampaign(ctx, got); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if got.ETag == stale.ETag {
		t.Error("replace kept the ETag")
	}
	if err := s.PutCampaign(ctx, &stale); !errors.Is(err, privacy.ErrConflict) {
		t.Errorf("replace with a stale ETag: %v, want ErrConflict", err)
	}
	// Counting a ledger row neither changes the campaign nor makes its
	// holder's next write conflict; a campaign write never resets counters.
	if _, err := s.Record(ctx, sent(c, "k1", breachsend.StatusSent, t0)); err != nil {
		t.Fatal(err)
	}
	got.Enqueued = 4
	if err := s.PutCampaign(ctx, got); err != nil {
		t.Fatalf("replace after a ledger write: %v", err)
	}
	again, err := s.GetCampaign(ctx, c.TenantID, c.IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	want := *got
	want.Sent = 1
	if diff := cmp.Diff(&want, again, diffOpts); diff != "" {
		t.Errorf("campaign after a ledger write and a replace (-want +got):\n%s", diff)
	}
}

func testBreachSendIsolation(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	a := newCampaign(t, newTenantID(t))
	putCampaign(t, s, a)
	b := newTenantID(t)
	if _, err := s.GetCampaign(ctx, b, a.IncidentID); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("another tenant reads the campaign: %v, want ErrNotFound", err)
	}
	if _, err := s.AddRecipients(ctx, a.TenantID, a.IncidentID, a.ListID, 1, recipients("x", "y")); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Deliveries(ctx, b, a.IncidentID, a.ListID, breachsend.ChannelEmail, 2, 1, 10)
	if err != nil || len(ds) != 0 {
		t.Errorf("another tenant reads the list: %d recipients, %v; want none", len(ds), err)
	}
	if n, err := s.DeleteList(ctx, b, a.IncidentID, a.ListID, 10); err != nil || n != 0 {
		t.Errorf("another tenant deletes the list: %d, %v; want 0", n, err)
	}
	if ok, err := s.ClaimBatch(ctx, a.TenantID, a.IncidentID, 0, "w1", t0, t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	if ok, err := s.ClaimBatch(ctx, b, a.IncidentID, 0, "w2", t0, t0.Add(time.Minute)); err != nil || !ok {
		t.Errorf("another tenant's batch of the same incident id: %v, %v; want its own claim", ok, err)
	}
	ds, err = s.Deliveries(ctx, a.TenantID, a.IncidentID, a.ListID, breachsend.ChannelEmail, 2, 1, 10)
	if err != nil || len(ds) != 2 {
		t.Errorf("the tenant's list after the other tenant's calls: %d recipients, %v; want 2", len(ds), err)
	}
}

func testRecipients(t *testing.T, s breachsend.Store) {
	ctx := t.Context()
	c := newCampaign(t, newTenantID(t))
	next, err := s.AddRecipients(ctx, c.TenantID, c.IncidentID, c.ListID, 1, recipients("a", "b", "a"))
	if err != nil || next != 3 {
		t.Fatalf("add a, b, a: next %d, %v; want 3", next, err)
	}
	// Idempotent per key: a chunk written again adds nothing.
	if next, err = s.AddRecipients(ctx, c.TenantID, c.IncidentID, c.ListID, 3, recipients("b", "c")); err != nil || next != 4 {
		t.Fatalf("add b, c: next %d, %v; want 4", next, err)
	}
	// 250 more: more than one transactional batch, in order.
	var keys []string
	for i := range 250 {
		keys = append(keys, fmt.Sprintf("m%03d", i))
	}
	if next, err = s.AddRecipients(ctx, c.TenantID, c.IncidentID, c.ListID, 4, recipients(keys...)); err != nil || next != 254 {
		t.Fatalf("add 250: next %d, %v; want 254", next, err)
	}
	// Another list of the incident numbers on its own.
	if n, err := s.AddRecipients(ctx, c.TenantID, c.IncidentID, "lst_other", 1, recipients("a")); err != nil || n != 2 {
		t.Fatalf("another list: next %d, %v; want 2", n, err)
	}
	want := []breachsend.Delivery{}
	for i, r := range recipients(append([]string{"a", "b", "c"}, keys...)...) {
		r.Seq = int64(i + 1)
		want = append(want, breachsend.Delivery{Recipient: r, Status: breachsend.StatusPending})
	}
	got, err := s.Deliveries(ctx, c.TenantID, c.IncidentID, c.ListID, breachsend.ChannelEmail, 2, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, diffOpts); diff != "" {
		t.Errorf("the whole list (-want +got):\n%s", diff)
	}
	got, err = s.Deliveries(ctx, c.TenantID, c.IncidentID, c.ListID, breachsend.ChannelEmail, 2, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1:3], got, diffOpts); diff != "" {
		t.Errorf("range 2..3 (-want +got):\n%s", diff)
	}
}
