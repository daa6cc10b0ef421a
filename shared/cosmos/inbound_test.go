package cosmos

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/storetest"
)

// TestInbound runs the InboundLog conformance suite. Against the emulator,
// which implements no TTL, expired records stay stored and the store's clock
// check alone hides them (see inbound.go); the suite's expectations are the
// same.
func TestInbound(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.RunInbound(t, func(testing.TB) privacy.InboundLog { return s })
}

func TestTTLUntil(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		at   time.Time
		want int32
	}{
		{"no expiry", time.Time{}, 0},
		{"a day", now.Add(24 * time.Hour), 86400},
		{"part of a second rounds up", now.Add(90*time.Second + time.Millisecond), 91},
		{"now", now, 1},
		{"past", now.Add(-time.Hour), 1},
		{"beyond int32 seconds", now.AddDate(100, 0, 0), math.MaxInt32},
	} {
		if got := ttlUntil(tc.at, now); got != tc.want {
			t.Errorf("%s: ttlUntil = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestInboundDocLayout: the stored document has the prefixed id, the docType,
// the listKey the listing sorts on and the ttl, and decodes back to the record.
func TestInboundDocLayout(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	r := &privacy.InboundRecord{TenantID: "acme", ID: "rj-1", Status: privacy.InboundRejected, ReceivedAt: now,
		Body: []byte{0, 255}, ContentType: "application/json", Properties: map[string]string{"signature": "s"},
		ExpiresAt: now.Add(time.Hour)}
	raw, err := json.Marshal(newInboundDoc(r, now))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "inbound:rj-1", "tenantId": "acme", "docType": "inbound", "status": "rejected",
		"listKey": timeKey(now) + "|rj-1", "ttl": float64(3600)}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("field %s = %v, want %v", k, fields[k], v)
		}
	}
	got, isInbound, err := decodeInbound(raw)
	if err != nil || !isInbound {
		t.Fatalf("decode: %v, inbound %t", err, isInbound)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Errorf("decoded record (-want +got):\n%s", d)
	}
	r.ExpiresAt = time.Time{}
	raw, _ = json.Marshal(newInboundDoc(r, now))
	if strings.Contains(string(raw), `"ttl"`) || strings.Contains(string(raw), "expiresAt") {
		t.Errorf("a record without expiry has a ttl or expiresAt: %s", raw)
	}
	if _, isInbound, _ := decodeInbound([]byte(`{"id":"req-1","docType":"request"}`)); isInbound {
		t.Error("a request document decodes as an inbound record")
	}
	for _, id := range []string{"", "a/b", strings.Repeat("x", 255-len(inboundIDPrefix)+1)} {
		if _, ok := inboundDocID(id); ok {
			t.Errorf("inboundDocID(%q) accepted", id)
		}
	}
}

// TestInboundBesideRequests: inbound documents share the requests container
// and its partitions but never show in a request read or query, and a
// request never shows as an inbound record. It also counts each call's round
// trips (see inbound.go) and checks the ttl as stored.
func TestInboundBesideRequests(t *testing.T) {
	t.Parallel()
	s, rec := newTestStore(t)
	ctx := t.Context()
	now := time.Now().UTC()
	s.now = func() time.Time { return now }
	tenant := "ib-" + randomID(t)
	req := &privacy.Request{ID: "req-1", TenantID: tenant, Type: privacy.TypeErase, Status: privacy.StatusInProgress,
		CreatedAt: now, Due: privacy.Due{At: now.Add(-time.Hour)}}
	if err := s.CreateRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	in := &privacy.InboundRecord{TenantID: tenant, ID: "req-1", Status: "in-progress", ReceivedAt: now.Add(time.Minute),
		Body: []byte("{}"), ExpiresAt: now.Add(90 * time.Second)}
	rec.take()

	if err := s.CreateInbound(ctx, in); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"create 201": 1}, count(rec.take(), true)); d != "" {
		t.Errorf("create calls (-want +got):\n%s", d)
	}
	dup := *in
	if err := s.CreateInbound(ctx, &dup); !errors.Is(err, privacy.ErrConflict) {
		t.Fatalf("duplicate create: %v, want ErrConflict", err)
	}
	if d := cmp.Diff(map[string]int{"create 409": 1, "point-read 200": 1}, count(rec.take(), true)); d != "" {
		t.Errorf("duplicate create calls (-want +got):\n%s", d)
	}
	got, err := s.GetInbound(ctx, tenant, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	got.Reason = "updated"
	if err := s.UpdateInbound(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListInbound(ctx, tenant, privacy.InboundFilter{}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"point-read": 1, "replace": 1, "query": 1}, count(rec.take(), false)); d != "" {
		t.Errorf("get, update and list calls (-want +got):\n%s", d)
	}

	raw, err := s.requests.ReadItem(ctx, azcosmos.NewPartitionKeyString(tenant), "inbound:req-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		TTL int32 `json:"ttl"`
	}
	if err := json.Unmarshal(raw.Value, &stored); err != nil || stored.TTL != 90 {
		t.Errorf("stored ttl %d (%v), want 90", stored.TTL, err)
	}

	if _, err := s.GetRequest(ctx, tenant, "inbound:req-1"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("GetRequest of the inbound document: %v, want ErrNotFound", err)
	}
	if r, err := s.GetRequest(ctx, tenant, "req-1"); err != nil || r.Type != privacy.TypeErase {
		t.Errorf("GetRequest beside an inbound record of the same id: %v, %v", r, err)
	}
	for _, f := range []privacy.RequestFilter{{}, {Status: privacy.StatusInProgress}} {
		page, err := s.ListRequests(ctx, tenant, f)
		if err != nil || len(page.Requests) != 1 || page.Requests[0].Type != privacy.TypeErase {
			t.Errorf("ListRequests(%+v): %d requests, %v; want the one request", f, len(page.Requests), err)
		}
	}
	stuck, err := s.ListStuck(ctx, tenant, now.Add(time.Hour), now.Add(time.Hour), 100)
	if err != nil || len(stuck) != 1 || stuck[0].Type != privacy.TypeErase {
		t.Errorf("ListStuck: %d requests, %v; want the one request", len(stuck), err)
	}
	page, err := s.ListInbound(ctx, tenant, privacy.InboundFilter{})
	if err != nil || len(page.Records) != 1 || page.Records[0].Reason != "updated" {
		t.Errorf("ListInbound: %d records, %v; want the one record", len(page.Records), err)
	}

	// Once its time has come the record is gone for every call, whether or
	// not Cosmos has deleted it yet; its id can be recorded again.
	now = now.Add(2 * time.Minute)
	if _, err := s.GetInbound(ctx, tenant, "req-1"); !errors.Is(err, privacy.ErrNotFound) {
		t.Errorf("GetInbound after expiry: %v, want ErrNotFound", err)
	}
	if page, err := s.ListInbound(ctx, tenant, privacy.InboundFilter{}); err != nil || len(page.Records) != 0 {
		t.Errorf("ListInbound after expiry: %d records, %v; want none", len(page.Records), err)
	}
	again := &privacy.InboundRecord{TenantID: tenant, ID: "req-1", Status: privacy.InboundAccepted, ReceivedAt: now}
	if err := s.CreateInbound(ctx, again); err != nil {
		t.Fatalf("create over the expired record: %v", err)
	}
	if got, err := s.GetInbound(ctx, tenant, "req-1"); err != nil || got.Status != privacy.InboundAccepted {
		t.Errorf("record created over the expired one: %+v, %v", got, err)
	}
}
