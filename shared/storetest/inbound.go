package storetest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/privops/privops/shared/privacy"
)

// RunInbound runs the conformance suite of the privacy.InboundLog port.
// newLog returns the log a subtest uses; like Run's constructor it may return
// a fresh log per call or share one backend (every subtest uses tenant ids of
// its own), and registers its own cleanup on tb.
//
// Expiry is measured against the adapter's clock, which the suite takes to be
// the real time: expired records carry an ExpiresAt an hour in the past, live
// ones a day or more in the future.
func RunInbound(t *testing.T, newLog func(tb testing.TB) privacy.InboundLog) {
	tests := []struct {
		name string
		test func(t *testing.T, l privacy.InboundLog)
	}{
		{"InboundRoundTrip", testInboundRoundTrip},
		{"InboundCreateDuplicate", testInboundDuplicate},
		{"InboundConcurrentCreates", testInboundConcurrentCreates},
		{"InboundTenantIsolation", testInboundIsolation},
		{"InboundUpdate", testInboundUpdate},
		{"InboundExpiry", testInboundExpiry},
		{"ListInbound", testListInbound},
		{"ListInboundBadCursor", testListInboundBadCursor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, newLog(t))
		})
	}
}

// inboundBody is a body no text round trip keeps: NUL, invalid UTF-8, CR LF,
// a multi-byte character and JSON-looking text.
var inboundBody = []byte("{\"specversion\":\"1.0\",\"id\":\"e1\"}\x00\xff\xfe\r\n\t\u00e9\\u0000 \"quoted\"")

// inboundProperties are application properties with an empty value, a
// non-ASCII key and a value full of JSON syntax.
var inboundProperties = map[string]string{
	"signature":    "t=1893463200,v1=3b1f0c4e",
	"ce-type":      "com.example.hr.erasure",
	"empty":        "",
	"schlüssel":    "wert",
	"json-looking": `{"a":[1,2]} \ "`,
}

// fullInbound returns a rejected record with every field set. It is
// deterministic apart from expires: two calls with the same arguments return
// equal records.
func fullInbound(tenantID, id string, received, expires time.Time) *privacy.InboundRecord {
	return &privacy.InboundRecord{
		TenantID:    tenantID,
		ID:          id,
		EventID:     "evt-" + id,
		MessageID:   "msg-" + id,
		Type:        "com.example.hr.erasure",
		Source:      "/hr/system",
		Status:      privacy.InboundRejected,
		Code:        "bad-signature",
		Reason:      "the signature does not match the body",
		RequestID:   "req-" + id,
		ReceivedAt:  received,
		Body:        bytes.Clone(inboundBody),
		ContentType: "application/cloudevents+json; charset=utf-8",
		Properties:  cloneProperties(inboundProperties),
		ExpiresAt:   expires,
	}
}

func cloneProperties(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// inboundDiffOpts compare records as documents, without their ETags.
var inboundDiffOpts = cmp.Options{diffOpts, cmpopts.IgnoreFields(privacy.InboundRecord{}, "ETag")}

// requireSameInbound fails with a (-want +got) diff unless want and got are
// the same record apart from the ETag, and checks the bytes exactly.
func requireSameInbound(tb testing.TB, want, got *privacy.InboundRecord, what string) {
	tb.Helper()
	if d := cmp.Diff(want, got, inboundDiffOpts); d != "" {
		tb.Fatalf("%s mismatch (-want +got):\n%s", what, d)
	}
	if !bytes.Equal(want.Body, got.Body) {
		tb.Fatalf("%s: body %q, want %q", what, got.Body, want.Body)
	}
}

// future is an expiry time no run reaches.
func future() time.Time { return time.Now().UTC().Add(7 * 24 * time.Hour) }

// past is an expiry time that has passed.
func past() time.Time { return time.Now().UTC().Add(-time.Hour) }

func newInboundID(tb testing.TB) string {
	tb.Helper()
	return "rj-" + randomHex(tb, 8)
}

func createInbound(tb testing.TB, l privacy.InboundLog, r *privacy.InboundRecord) {
	tb.Helper()
	requireNoError(tb, l.CreateInbound(tb.Context(), r), "create inbound "+r.ID)
	if r.ETag == "" {
		tb.Fatalf("create inbound %s set no ETag", r.ID)
	}
}

func getInbound(tb testing.TB, l privacy.InboundLog, tenantID, id string) *privacy.InboundRecord {
	tb.Helper()
	r, err := l.GetInbound(tb.Context(), tenantID, id)
	requireNoError(tb, err, "get inbound "+id)
	if r.ETag == "" {
		tb.Fatalf("get inbound %s returned no ETag", id)
	}
	return r
}

func testInboundRoundTrip(t *testing.T, l privacy.InboundLog) {
	tenant := newTenantID(t)
	expires := future()
	requireAllFieldsSet(t, *fullInbound(tenant, "x", t0, expires), "ETag")

	tests := []struct {
		name   string
		record *privacy.InboundRecord
	}{
		{"rejected, every field set", fullInbound(tenant, newInboundID(t), t0, expires)},
		{"accepted, no body and no expiry", &privacy.InboundRecord{TenantID: tenant, ID: "ce-" + randomHex(t, 8),
			EventID: "evt-1", Type: "com.example.task.result", Source: "/svc", Status: privacy.InboundAccepted,
			RequestID: "req-1", ReceivedAt: t0}},
		{"operator partition", &privacy.InboundRecord{TenantID: privacy.OperatorTenant, ID: newInboundID(t),
			Status: privacy.InboundRejected, Code: "unknown-tenant", ReceivedAt: t0, Body: []byte{0, 1, 2, 255},
			ContentType: "application/octet-stream", Properties: map[string]string{"tenant": "nobody"}, ExpiresAt: expires}},
		{"empty body and properties", &privacy.InboundRecord{TenantID: tenant, ID: newInboundID(t),
			Status: privacy.InboundReplayed, ReceivedAt: t0.Add(time.Nanosecond), Body: []byte{},
			Properties: map[string]string{}, ExpiresAt: expires}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stored := *tt.record
			createInbound(t, l, &stored)
			requireSameInbound(t, tt.record, &stored, "record after create") // create changes nothing but the ETag
			got := getInbound(t, l, tt.record.TenantID, tt.record.ID)
			requireSameInbound(t, tt.record, got, "round trip")
			if got.ETag != stored.ETag {
				t.Errorf("get returned ETag %q, create set %q", got.ETag, stored.ETag)
			}
			if len(got.Body) > 0 { // the store keeps its own copy
				got.Body[0] ^= 0xff
			}
			if got.Properties != nil {
				got.Properties["added"] = "x"
			}
			requireSameInbound(t, tt.record, getInbound(t, l, tt.record.TenantID, tt.record.ID), "second read")
		})
	}
}

func testInboundDuplicate(t *testing.T, l privacy.InboundLog) {
	ctx := t.Context()
	tenant, other, id := newTenantID(t), newTenantID(t), newInboundID(t)
	first := fullInbound(tenant, id, t0, future())
	createInbound(t, l, first)

	again := fullInbound(tenant, id, t0.Add(time.Hour), future())
	again.Status, again.Body = privacy.InboundAccepted, []byte("another body")
	requireErrorIs(t, l.CreateInbound(ctx, again), privacy.ErrConflict, "create a duplicate id")
	requireSameInbound(t, first, getInbound(t, l, tenant, id), "record after the refused create")

	// The same id in another tenant is another record.
	elsewhere := fullInbound(other, id, t0, future())
	createInbound(t, l, elsewhere)
	requireSameInbound(t, elsewhere, getInbound(t, l, other, id), "the other tenant's record")
	requireSameInbound(t, first, getInbound(t, l, tenant, id), "the first tenant's record")
}

// testInboundConcurrentCreates is the deduplication check under a race: of
// many creates of one id, exactly one succeeds.
func testInboundConcurrentCreates(t *testing.T, l privacy.InboundLog) {
	const workers = 8
	tenant, id := newTenantID(t), "ce-"+randomHex(t, 8)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			r := &privacy.InboundRecord{TenantID: tenant, ID: id, Status: privacy.InboundAccepted,
				RequestID: fmt.Sprintf("req-%d", i), ReceivedAt: t0}
			errs[i] = l.CreateInbound(t.Context(), r)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, privacy.ErrConflict):
			t.Fatalf("concurrent create: %v, want success or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent creates of one id succeeded, want 1", won, workers)
	}
}

func testInboundIsolation(t *testing.T, l privacy.InboundLog) {
	ctx := t.Context()
	a, b, id := newTenantID(t), newTenantID(t), newInboundID(t)
	r := fullInbound(a, id, t0, future())
	createInbound(t, l, r)

	_, err := l.GetInbound(ctx, b, id)
	requireErrorIs(t, err, privacy.ErrNotFound, "get a record of another tenant")
	_, err = l.GetInbound(ctx, a, newInboundID(t))
	requireErrorIs(t, err, privacy.ErrNotFound, "get an absent record")

	// An update naming tenant b does not reach a's record, even with its ETag.
	stolen := *r
	stolen.TenantID, stolen.Reason = b, "overwritten"
	requireErrorIs(t, l.UpdateInbound(ctx, &stolen), privacy.ErrNotFound, "update through another tenant")
	requireSameInbound(t, r, getInbound(t, l, a, id), "record after the other tenant's update")

	page, err := l.ListInbound(ctx, b, privacy.InboundFilter{Limit: 100})
	requireNoError(t, err, "list the other tenant")
	if len(page.Records) != 0 || page.Next != "" {
		t.Fatalf("tenant %s lists %d records (next %q), want none", b, len(page.Records), page.Next)
	}
}

func testInboundUpdate(t *testing.T, l privacy.InboundLog) {
	ctx := t.Context()
	tenant, id := newTenantID(t), newInboundID(t)
	r := fullInbound(tenant, id, t0, future())
	createInbound(t, l, r)

	read := getInbound(t, l, tenant, id)
	stale := *read
	read.Status, read.Code, read.Reason = privacy.InboundReplayed, "", "replayed after the key rotation"
	read.Properties["replayed-by"] = "operator"
	requireNoError(t, l.UpdateInbound(ctx, read), "update")
	if read.ETag == "" || read.ETag == stale.ETag {
		t.Fatalf("update set ETag %q; it was %q", read.ETag, stale.ETag)
	}
	got := getInbound(t, l, tenant, id)
	requireSameInbound(t, read, got, "record after update")
	if got.ETag != read.ETag {
		t.Errorf("get returned ETag %q, update set %q", got.ETag, read.ETag)
	}

	stale.Reason = "a lost update"
	requireErrorIs(t, l.UpdateInbound(ctx, &stale), privacy.ErrConflict, "update with a stale ETag")
	noTag := *got
	noTag.ETag = ""
	requireErrorIs(t, l.UpdateInbound(ctx, &noTag), privacy.ErrConflict, "update without an ETag")
	requireSameInbound(t, read, getInbound(t, l, tenant, id), "record after the refused updates")

	missing := fullInbound(tenant, newInboundID(t), t0, future())
	missing.ETag = got.ETag
	requireErrorIs(t, l.UpdateInbound(ctx, missing), privacy.ErrNotFound, "update an absent record")
}

func testInboundExpiry(t *testing.T, l privacy.InboundLog) {
	ctx := t.Context()
	tenant := newTenantID(t)
	expired := fullInbound(tenant, newInboundID(t), t0, past())
	live := fullInbound(tenant, newInboundID(t), t0.Add(-time.Minute), future())
	forever := &privacy.InboundRecord{TenantID: tenant, ID: "ce-" + randomHex(t, 8), Status: privacy.InboundAccepted,
		ReceivedAt: t0.Add(-2 * time.Minute)}
	for _, r := range []*privacy.InboundRecord{expired, live, forever} {
		createInbound(t, l, r)
	}

	_, err := l.GetInbound(ctx, tenant, expired.ID)
	requireErrorIs(t, err, privacy.ErrNotFound, "get an expired record")
	requireSameInbound(t, live, getInbound(t, l, tenant, live.ID), "a record expiring later")
	requireSameInbound(t, forever, getInbound(t, l, tenant, forever.ID), "a record without expiry")

	for _, f := range []privacy.InboundFilter{{}, {Status: privacy.InboundRejected}, {Limit: 1}} {
		got, _ := listAllInbound(t, l, tenant, f)
		for _, r := range got {
			if r.ID == expired.ID {
				t.Fatalf("listing with %+v returned the expired record", f)
			}
		}
	}

	// An expired record is gone: its id can be recorded again.
	again := fullInbound(tenant, expired.ID, t0.Add(time.Hour), future())
	again.Reason = "rejected again"
	requireNoError(t, l.CreateInbound(ctx, again), "create over an expired record")
	requireSameInbound(t, again, getInbound(t, l, tenant, expired.ID), "the record created over an expired one")
}

// seedInbound stores records of one tenant for the listing tests: received
// one minute apart, three of them at the very same instant, with statuses in
// turn, and expired records in between that must never be listed. It returns
// the live ones in listing order: newest first, ties by id descending.
func seedInbound(tb testing.TB, l privacy.InboundLog, tenant string) []*privacy.InboundRecord {
	tb.Helper()
	statuses := []privacy.InboundStatus{privacy.InboundAccepted, privacy.InboundRejected, privacy.InboundReplayed}
	var live []*privacy.InboundRecord
	for i := range 13 {
		at := t0.Add(time.Duration(i) * time.Minute)
		if i >= 5 && i <= 7 {
			at = t0.Add(5 * time.Minute) // a tie the cursor must get through
		}
		r := fullInbound(tenant, fmt.Sprintf("in-%02d", i), at, future())
		r.Status = statuses[i%len(statuses)]
		if r.Status == privacy.InboundAccepted {
			r.Body, r.ContentType, r.Properties, r.ExpiresAt = nil, "", nil, time.Time{}
		}
		createInbound(tb, l, r)
		live = append(live, r)
		if i%4 == 1 {
			x := fullInbound(tenant, fmt.Sprintf("in-%02d-expired", i), at, past())
			x.Status = r.Status
			createInbound(tb, l, x)
		}
	}
	slices.SortFunc(live, func(a, b *privacy.InboundRecord) int {
		if c := b.ReceivedAt.Compare(a.ReceivedAt); c != 0 {
			return c
		}
		return cmpString(b.ID, a.ID)
	})
	return live
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testListInbound(t *testing.T, l privacy.InboundLog) {
	tenant, other := newTenantID(t), newTenantID(t)
	all := seedInbound(t, l, tenant)
	seedInbound(t, l, other) // same ids and times in another tenant: must never show

	tests := []struct {
		name   string
		filter privacy.InboundFilter
		pages  int // pages holding records; 0: not checked
		match  func(*privacy.InboundRecord) bool
	}{
		{"three pages", privacy.InboundFilter{Limit: 5}, 3, func(*privacy.InboundRecord) bool { return true }},
		{"pages of one", privacy.InboundFilter{Limit: 1}, 13, func(*privacy.InboundRecord) bool { return true }},
		{"one page", privacy.InboundFilter{Limit: 100}, 1, func(*privacy.InboundRecord) bool { return true }},
		{"default limit", privacy.InboundFilter{}, 1, func(*privacy.InboundRecord) bool { return true }},
		{"rejected", privacy.InboundFilter{Status: privacy.InboundRejected, Limit: 2}, 2,
			func(r *privacy.InboundRecord) bool { return r.Status == privacy.InboundRejected }},
		{"accepted", privacy.InboundFilter{Status: privacy.InboundAccepted}, 1,
			func(r *privacy.InboundRecord) bool { return r.Status == privacy.InboundAccepted }},
		{"no match", privacy.InboundFilter{Status: "unknown", Limit: 2}, 0,
			func(*privacy.InboundRecord) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want []*privacy.InboundRecord
			for _, r := range all {
				if tt.match(r) {
					want = append(want, r)
				}
			}
			got, pages := listAllInbound(t, l, tenant, tt.filter)
			if tt.pages > 0 && pages != tt.pages {
				t.Errorf("%d records came in %d pages holding records, want %d", len(got), pages, tt.pages)
			}
			if d := cmp.Diff(want, got, inboundDiffOpts); d != "" {
				t.Fatalf("listing (newest first, ties by id descending) mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// listAllInbound follows the cursor to the end and returns everything listed
// and the number of pages that held records. Only the last page may be
// empty; no record may repeat.
func listAllInbound(tb testing.TB, l privacy.InboundLog, tenant string, f privacy.InboundFilter) ([]*privacy.InboundRecord, int) {
	tb.Helper()
	var out []*privacy.InboundRecord
	seen := map[string]bool{}
	full := 0
	for pages := 1; ; pages++ {
		page, err := l.ListInbound(tb.Context(), tenant, f)
		requireNoError(tb, err, fmt.Sprintf("list inbound page %d", pages))
		if f.Limit > 0 && len(page.Records) > f.Limit {
			tb.Fatalf("page %d holds %d records, more than the limit %d", pages, len(page.Records), f.Limit)
		}
		if len(page.Records) == 0 && page.Next != "" {
			tb.Fatalf("page %d is empty but has a next cursor", pages)
		}
		if len(page.Records) > 0 {
			full++
		}
		for _, r := range page.Records {
			if r.TenantID != tenant {
				tb.Fatalf("listing tenant %s returned a record of tenant %s", tenant, r.TenantID)
			}
			if r.ETag == "" {
				tb.Fatalf("listed record %s has no ETag", r.ID)
			}
			if seen[r.ID] {
				tb.Fatalf("record %s listed twice", r.ID)
			}
			seen[r.ID] = true
		}
		out = append(out, page.Records...)
		if page.Next == "" {
			return out, full
		}
		if pages > 100 {
			tb.Fatal("more than 100 pages: the cursor does not advance")
		}
		f.Cursor = page.Next
	}
}

func testListInboundBadCursor(t *testing.T, l privacy.InboundLog) {
	ctx := t.Context()
	tenant, other := newTenantID(t), newTenantID(t)
	seedInbound(t, l, tenant)
	seedInbound(t, l, other)
	first, err := l.ListInbound(ctx, tenant, privacy.InboundFilter{Limit: 2})
	requireNoError(t, err, "list inbound")
	rejected, err := l.ListInbound(ctx, tenant, privacy.InboundFilter{Limit: 1, Status: privacy.InboundRejected})
	requireNoError(t, err, "list rejected inbound")
	if first.Next == "" || rejected.Next == "" {
		t.Fatal("first pages of 13 records by 2, and of rejected ones by 1, have no cursor")
	}
	tests := []struct {
		name   string
		tenant string
		filter privacy.InboundFilter
	}{
		{"not a cursor", tenant, privacy.InboundFilter{Cursor: "not a cursor"}},
		{"not base64", tenant, privacy.InboundFilter{Cursor: "%%%"}},
		{"empty object", tenant, privacy.InboundFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("{}"))}},
		{"padded base64", tenant, privacy.InboundFilter{Cursor: base64.StdEncoding.EncodeToString([]byte(`{"x":1}`))}},
		{"truncated", tenant, privacy.InboundFilter{Cursor: first.Next[:len(first.Next)/2]}},
		{"appended", tenant, privacy.InboundFilter{Cursor: first.Next + "garbage"}},
		{"another tenant's", other, privacy.InboundFilter{Limit: 2, Cursor: first.Next}},
		{"another status filter's", tenant, privacy.InboundFilter{Limit: 2, Status: privacy.InboundAccepted, Cursor: first.Next}},
		{"a status filter's, without it", tenant, privacy.InboundFilter{Limit: 1, Cursor: rejected.Next}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := listInboundNoPanic(t, l, tt.tenant, tt.filter)
			if e, ok := privacy.AsError(err); !ok || e.Kind != privacy.KindInvalid || e.Code != "invalid-cursor" {
				t.Fatalf("cursor %q: error %v, want a privacy.Error invalid-cursor of KindInvalid", tt.filter.Cursor, err)
			}
		})
	}
	// The cursors themselves still work.
	requireNoError(t, listInboundNoPanic(t, l, tenant, privacy.InboundFilter{Limit: 2, Cursor: first.Next}), "list with the cursor")
}

func listInboundNoPanic(tb testing.TB, l privacy.InboundLog, tenant string, f privacy.InboundFilter) (err error) {
	tb.Helper()
	defer func() {
		if p := recover(); p != nil {
			err = nil
			tb.Errorf("list inbound with cursor %q panicked: %v", f.Cursor, p)
		}
	}()
	_, err = l.ListInbound(tb.Context(), tenant, f)
	return err
}
