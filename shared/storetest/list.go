package storetest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// testConcurrentUpdates runs read-modify-write loops from several goroutines;
// with ETag checks and conflict retries no increment is lost.
func testConcurrentUpdates(t *testing.T, s privacy.Store) {
	const workers, increments = 8, 10
	tenant, id := newTenantID(t), newRequestID(t)
	r := fullRequest(tenant, id, t0)
	r.Verification.Attempts = 0
	createRequest(t, s, r)

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range increments {
				if err := increment(t, s, tenant, id); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := getRequest(t, s, tenant, id).Verification.Attempts; got != workers*increments {
		t.Fatalf("after %d concurrent increments the count is %d", workers*increments, got)
	}
}

// increment adds one to a request's attempt count, retrying on conflicts.
func increment(tb testing.TB, s privacy.Store, tenant, id string) error {
	tb.Helper()
	for range 1000 {
		r, err := s.GetRequest(tb.Context(), tenant, id)
		if err != nil {
			return fmt.Errorf("get request: %w", err)
		}
		r.Verification.Attempts++
		err = s.UpdateRequest(tb.Context(), r)
		if err == nil {
			return nil
		}
		if !errors.Is(err, privacy.ErrConflict) && !errors.Is(err, privacy.ErrUnavailable) {
			return fmt.Errorf("update request: %w", err)
		}
	}
	return errors.New("update request: still conflicting after 1000 attempts")
}

// seedList stores requests of one tenant for the listing tests: created one
// minute apart, three of them at the very same instant, with varied types and
// statuses. It returns them newest first by creation time.
func seedList(tb testing.TB, s privacy.Store, tenant string) []*privacy.Request {
	tb.Helper()
	types := []privacy.RequestType{privacy.TypeAccess, privacy.TypeErase, privacy.TypeExport}
	statuses := []privacy.Status{privacy.StatusAwaitingDecision, privacy.StatusInProgress, privacy.StatusCompleted, privacy.StatusDenied}
	var all []*privacy.Request
	for i := range 13 {
		at := t0.Add(time.Duration(i) * time.Minute)
		if i >= 5 && i <= 7 {
			at = t0.Add(5 * time.Minute) // a tie the cursor must get through
		}
		r := fullRequest(tenant, fmt.Sprintf("req-%02d", i), at)
		r.Type, r.Status = types[i%len(types)], statuses[i%len(statuses)]
		createRequest(tb, s, r)
		all = append(all, r)
	}
	slices.Reverse(all) // by creation, newest first; the tied three in any order
	return all
}

func testListRequests(t *testing.T, s privacy.Store) {
	tenant, other := newTenantID(t), newTenantID(t)
	all := seedList(t, s, tenant)
	seedList(t, s, other) // same ids and times in another tenant: must never show

	tests := []struct {
		name   string
		filter privacy.RequestFilter
		match  func(*privacy.Request) bool
	}{
		{"all", privacy.RequestFilter{Limit: 3}, func(*privacy.Request) bool { return true }},
		{"one page", privacy.RequestFilter{Limit: 100}, func(*privacy.Request) bool { return true }},
		{"default limit", privacy.RequestFilter{}, func(*privacy.Request) bool { return true }},
		{"status", privacy.RequestFilter{Status: privacy.StatusInProgress, Limit: 1},
			func(r *privacy.Request) bool { return r.Status == privacy.StatusInProgress }},
		{"type", privacy.RequestFilter{Type: privacy.TypeErase, Limit: 2},
			func(r *privacy.Request) bool { return r.Type == privacy.TypeErase }},
		{"status and type", privacy.RequestFilter{Status: privacy.StatusCompleted, Type: privacy.TypeExport, Limit: 2},
			func(r *privacy.Request) bool {
				return r.Status == privacy.StatusCompleted && r.Type == privacy.TypeExport
			}},
		{"no match", privacy.RequestFilter{Status: privacy.StatusCancelled, Limit: 2},
			func(*privacy.Request) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want []*privacy.Request
			for _, r := range all {
				if tt.match(r) {
					want = append(want, r)
				}
			}
			got, pages := listAll(t, s, tenant, tt.filter)
			if tt.filter.Limit > 0 && tt.filter.Limit < len(want) && pages < 2 {
				t.Errorf("%d requests came in %d page(s) of at most %d", len(got), pages, tt.filter.Limit)
			}
			requireEqual(t, byID(want), byID(got), "listed requests")
			requireNewestFirst(t, got)
			// Apart from the tie, the order is exact.
			for i := range got {
				if !got[i].CreatedAt.Equal(want[i].CreatedAt) {
					t.Fatalf("request %d of the listing was created at %s, want %s", i, got[i].CreatedAt, want[i].CreatedAt)
				}
			}
		})
	}
	if _, pages := listAll(t, s, tenant, privacy.RequestFilter{Limit: 4}); pages < 3 {
		t.Errorf("13 requests by 4 came in %d pages", pages)
	}
}

// listAll follows the cursor to the end and returns everything listed and the
// number of pages. Only the last page may be empty; no request may repeat.
func listAll(tb testing.TB, s privacy.Store, tenant string, f privacy.RequestFilter) ([]*privacy.Request, int) {
	tb.Helper()
	var out []*privacy.Request
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		page, err := s.ListRequests(tb.Context(), tenant, f)
		requireNoError(tb, err, fmt.Sprintf("list requests page %d", pages))
		if f.Limit > 0 && len(page.Requests) > f.Limit {
			tb.Fatalf("page %d holds %d requests, more than the limit %d", pages, len(page.Requests), f.Limit)
		}
		if len(page.Requests) == 0 && page.Next != "" {
			tb.Fatalf("page %d is empty but has a next cursor", pages)
		}
		for _, r := range page.Requests {
			if r.TenantID != tenant {
				tb.Fatalf("listing tenant %s returned a request of tenant %s", tenant, r.TenantID)
			}
			if r.ETag == "" {
				tb.Fatalf("listed request %s has no ETag", r.ID)
			}
			if seen[r.ID] {
				tb.Fatalf("request %s listed twice", r.ID)
			}
			seen[r.ID] = true
		}
		out = append(out, page.Requests...)
		if page.Next == "" {
			return out, pages
		}
		if pages > 100 {
			tb.Fatal("more than 100 pages: the cursor does not advance")
		}
		f.Cursor = page.Next
	}
}

func byID(rs []*privacy.Request) map[string]*privacy.Request {
	m := map[string]*privacy.Request{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func requireNewestFirst(tb testing.TB, rs []*privacy.Request) {
	tb.Helper()
	if !sort.SliceIsSorted(rs, func(i, j int) bool { return rs[i].CreatedAt.After(rs[j].CreatedAt) }) {
		tb.Fatal("requests are not listed newest first")
	}
}

func testBadCursor(t *testing.T, s privacy.Store) {
	tenant := newTenantID(t)
	seedList(t, s, tenant)
	first, err := s.ListRequests(t.Context(), tenant, privacy.RequestFilter{Limit: 2})
	requireNoError(t, err, "list requests")
	if first.Next == "" {
		t.Fatal("first page of 13 requests by 2 has no cursor")
	}
	bad := []string{
		"not a cursor",
		"%%%",
		base64.RawURLEncoding.EncodeToString([]byte("{}")),
		base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)),
		first.Next[:len(first.Next)/2],
		first.Next + "garbage",
	}
	for _, c := range bad {
		err := listNoPanic(t, s, tenant, privacy.RequestFilter{Limit: 2, Cursor: c})
		if err == nil {
			t.Errorf("cursor %q: no error", c)
			continue
		}
		if e, ok := privacy.AsError(err); !ok || e.Kind != privacy.KindInvalid {
			t.Errorf("cursor %q: error %v is not a privacy.Error of KindInvalid", c, err)
		}
	}
}

func listNoPanic(tb testing.TB, s privacy.Store, tenant string, f privacy.RequestFilter) (err error) {
	tb.Helper()
	defer func() {
		if p := recover(); p != nil {
			err = nil
			tb.Errorf("list requests with cursor %q panicked: %v", f.Cursor, p)
		}
	}()
	_, err = s.ListRequests(tb.Context(), tenant, f)
	return err
}

// wake sets a request's task wake-up time.
func wake(r *privacy.Request, at time.Time) *privacy.Request {
	r.WakeAt = at
	return r
}

func testListStuck(t *testing.T, s privacy.Store) {
	ctx := t.Context()
	tenant, other := newTenantID(t), newTenantID(t)
	now := t0.AddDate(0, 2, 0)
	olderThan, dueBefore := now.Add(-time.Hour), now

	mk := func(name string, status privacy.Status, due time.Time, outbox ...time.Time) *privacy.Request {
		r := fullRequest(tenant, name, t0)
		r.Status, r.Due.At, r.Outbox, r.WakeAt = status, due, nil, time.Time{}
		for i, at := range outbox {
			r.Outbox = append(r.Outbox, outboxAudit(tenant, name, fmt.Sprintf("%s-evt-%d", name, i), at))
		}
		return r
	}
	later := now.Add(24 * time.Hour)
	cases := []struct {
		r     *privacy.Request
		stuck bool
	}{
		{mk("outbox-old", privacy.StatusInProgress, later, now.Add(-2*time.Hour)), true},
		{mk("outbox-old-second", privacy.StatusApproved, later, now.Add(-5*time.Minute), now.Add(-3*time.Hour)), true},
		{mk("outbox-old-terminal", privacy.StatusDenied, later, now.Add(-2*time.Hour)), true}, // the notice still must go
		{mk("outbox-recent", privacy.StatusInProgress, later, now.Add(-10*time.Minute)), false},
		{mk("overdue", privacy.StatusAwaitingDecision, now.Add(-time.Minute)), true},
		{mk("overdue-verification", privacy.StatusAwaitingVerification, now.Add(-48*time.Hour)), true},
		{mk("overdue-terminal", privacy.StatusCompleted, now.Add(-time.Minute)), false},
		{mk("overdue-cancelled", privacy.StatusCancelled, now.Add(-48*time.Hour)), false},
		{mk("due-later", privacy.StatusInProgress, later), false},
		{mk("due-exactly-now", privacy.StatusInProgress, now), false}, // before, not at
		{mk("no-due-date", privacy.StatusAwaitingVerification, time.Time{}), false},
		{wake(mk("task-lease-ran-out", privacy.StatusInProgress, later), now.Add(-2*time.Hour)), true},
		{wake(mk("task-lease-running", privacy.StatusInProgress, later), now.Add(-10*time.Minute)), false},
		{wake(mk("task-wake-and-outbox", privacy.StatusInProgress, later, now.Add(-10*time.Minute)), now.Add(-2*time.Hour)), true},
	}
	var want []*privacy.Request
	for _, c := range cases {
		createRequest(t, s, c.r)
		if c.stuck {
			want = append(want, c.r)
		}
		o := *c.r
		o.TenantID = other
		createRequest(t, s, &o)
	}
	got, err := s.ListStuck(ctx, tenant, olderThan, dueBefore, 100)
	requireNoError(t, err, "list stuck requests")
	requireEqual(t, byID(want), byID(got), "stuck requests")

	got, err = s.ListStuck(ctx, tenant, olderThan, dueBefore, 2)
	requireNoError(t, err, "list stuck requests with a limit")
	if len(got) != 2 {
		t.Fatalf("list stuck requests with limit 2 returned %d", len(got))
	}
	for _, r := range got {
		if wr := byID(want)[r.ID]; wr == nil {
			t.Errorf("limited listing returned %s, which is not stuck", r.ID)
		}
	}
}
