package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// auditEvent returns an unsealed event with every caller-set field filled.
func auditEvent(tenant string, i int) *privacy.AuditEvent {
	return &privacy.AuditEvent{
		ID:          fmt.Sprintf("aud-%d", i),
		TenantID:    tenant,
		At:          t0.Add(time.Duration(i) * time.Second),
		Actor:       "admin:alice",
		Action:      "request.approved",
		Target:      fmt.Sprintf("request/req-%d", i),
		SubjectHash: "sh-0c4e",
		Details:     map[string]string{"reason": "identity confirmed", "services": "3"},
	}
}

func testAuditChain(t *testing.T, s privacy.Store) {
	ctx := t.Context()
	tenant := newTenantID(t)
	got, err := s.ListAudit(ctx, tenant, 0, 10)
	requireNoError(t, err, "list empty audit")
	if len(got) != 0 {
		t.Fatalf("a new tenant has %d audit events", len(got))
	}

	const n = 23
	var want []privacy.AuditEvent
	for i := range n {
		e := auditEvent(tenant, i)
		requireAllFieldsSet(t, *e, "Seq", "PrevHash", "Hash")
		requireNoError(t, s.AppendAudit(ctx, e), "append audit event")
		if e.Seq != int64(i+1) || e.Hash == "" || e.Hash != privacy.ChainHash(*e) {
			t.Fatalf("append %d: sealed as seq %d hash %q", i, e.Seq, e.Hash)
		}
		want = append(want, *e)
		e.Details["reason"] = "changed by the caller after the append"
	}
	// The events as sealed: the caller's later change must not reach the store.
	for i := range want {
		want[i].Details = auditEvent(tenant, i).Details
	}
	if b := privacy.VerifyChain(0, "", want); b != nil {
		t.Fatalf("sealed events do not chain: %+v", b)
	}

	// Page through by afterSeq, and check each page against the previous one.
	var all []privacy.AuditEvent
	prevSeq, prevHash := int64(0), ""
	for {
		page, err := s.ListAudit(ctx, tenant, prevSeq, 7)
		requireNoError(t, err, fmt.Sprintf("list audit after %d", prevSeq))
		if len(page) > 7 {
			t.Fatalf("audit page after %d holds %d events, more than 7", prevSeq, len(page))
		}
		if len(page) == 0 {
			break
		}
		if b := privacy.VerifyChain(prevSeq, prevHash, page); b != nil {
			t.Fatalf("audit page after %d does not chain: %+v", prevSeq, b)
		}
		all = append(all, page...)
		prevSeq, prevHash = page[len(page)-1].Seq, page[len(page)-1].Hash
	}
	requireEqual(t, want, all, "audit events")

	page, err := s.ListAudit(ctx, tenant, 20, 100)
	requireNoError(t, err, "list audit after 20")
	requireEqual(t, want[20:], page, "audit events after 20")
	page, err = s.ListAudit(ctx, tenant, n, 100)
	requireNoError(t, err, "list audit after the head")
	if len(page) != 0 {
		t.Fatalf("listing after the head returned %d events", len(page))
	}
}

// testAuditConcurrent appends from many goroutines to two tenants at once: each
// tenant gets its own gapless chain 1..N.
func testAuditConcurrent(t *testing.T, s privacy.Store) {
	const workers, each = 8, 6
	tenants := []string{newTenantID(t), newTenantID(t)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seqs := map[string]map[int64]bool{tenants[0]: {}, tenants[1]: {}}
	for w := range workers {
		for _, tenant := range tenants {
			wg.Go(func() {
				for i := range each {
					e := auditEvent(tenant, w*each+i)
					if err := s.AppendAudit(t.Context(), e); err != nil {
						t.Errorf("append audit event: %v", err)
						return
					}
					mu.Lock()
					if seqs[tenant][e.Seq] {
						t.Errorf("seq %d assigned twice in tenant %s", e.Seq, tenant)
					}
					seqs[tenant][e.Seq] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, tenant := range tenants {
		events, err := s.ListAudit(t.Context(), tenant, 0, 1000)
		requireNoError(t, err, "list audit")
		if len(events) != workers*each {
			t.Fatalf("tenant %s has %d audit events, want %d", tenant, len(events), workers*each)
		}
		if b := privacy.VerifyChain(0, "", events); b != nil {
			t.Fatalf("tenant %s audit chain breaks: %+v", tenant, b)
		}
		for _, e := range events {
			if e.TenantID != tenant {
				t.Fatalf("tenant %s lists an event of tenant %s", tenant, e.TenantID)
			}
		}
	}
}

// testAuditIdempotent appends events whose id the chain already holds: nothing
// is appended and the caller gets the stored event, also under a race.
func testAuditIdempotent(t *testing.T, s privacy.Store) {
	ctx := t.Context()
	tenant, other := newTenantID(t), newTenantID(t)
	first := auditEvent(tenant, 1)
	requireNoError(t, s.AppendAudit(ctx, first), "append audit event")
	second := auditEvent(tenant, 2)
	requireNoError(t, s.AppendAudit(ctx, second), "append audit event")

	again := auditEvent(tenant, 1) // a re-driven outbox, with a later time
	again.At, again.Action = t0.Add(time.Hour), "request.denied"
	requireNoError(t, s.AppendAudit(ctx, again), "append an audit event id again")
	requireEqual(t, first, again, "event filled from the stored one")

	elsewhere := auditEvent(other, 1) // the same id in another tenant is another event
	requireNoError(t, s.AppendAudit(ctx, elsewhere), "append the id in another tenant")
	if elsewhere.Seq != 1 {
		t.Fatalf("the other tenant's first event has seq %d", elsewhere.Seq)
	}

	// Several goroutines append the same ids at once: each id lands once.
	const workers, ids = 8, 5
	sealed := make([][]privacy.AuditEvent, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ids {
				e := auditEvent(tenant, 100+i)
				if err := s.AppendAudit(ctx, e); err != nil {
					t.Errorf("append audit event: %v", err)
					return
				}
				sealed[w] = append(sealed[w], *e)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for w := 1; w < workers; w++ {
		requireEqual(t, sealed[0], sealed[w], fmt.Sprintf("events sealed for goroutine %d", w))
	}
	events, err := s.ListAudit(ctx, tenant, 0, 100)
	requireNoError(t, err, "list audit")
	if len(events) != 2+ids {
		t.Fatalf("chain holds %d events, want %d", len(events), 2+ids)
	}
	if b := privacy.VerifyChain(0, "", events); b != nil {
		t.Fatalf("audit chain breaks: %+v", b)
	}
	requireEqual(t, *first, events[0], "first event")

	noID := auditEvent(tenant, 9)
	noID.ID = ""
	if err := s.AppendAudit(ctx, noID); err == nil {
		t.Fatal("an audit event without an id was appended; it could never be deduplicated")
	}
}
