package sqlite

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// A request written with audit events stores both in one transaction: the
// events are sealed into the chain as AppendAudit seals them (idempotent by
// id), and a write that fails (an id taken, an ETag moved on) appends none.
func TestRequestWithAudit(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	event := func(id string) *privacy.AuditEvent {
		return &privacy.AuditEvent{ID: id, TenantID: "acme", At: at, Actor: "subject", Action: "request.submitted", Target: "request/req-1"}
	}
	actions := func(tb testing.TB, s *Store) []string {
		tb.Helper()
		evs, err := s.ListAudit(tb.Context(), "acme", 0, 100)
		if err != nil {
			tb.Fatal(err)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		return ids
	}
	s := openTest(t, Options{}).Store()
	r := benchRequest("acme", "req-1", at)
	e1 := event("aud-1")
	if err := s.CreateRequestWithAudit(t.Context(), r, []*privacy.AuditEvent{e1}); err != nil {
		t.Fatal(err)
	}
	if e1.Seq != 1 || e1.Hash == "" {
		t.Errorf("the event was not filled from the stored one: seq %d, hash %q", e1.Seq, e1.Hash)
	}
	// The same id again: the create fails, and nothing is appended.
	again := benchRequest("acme", "req-1", at)
	if err := s.CreateRequestWithAudit(t.Context(), again, []*privacy.AuditEvent{event("aud-2")}); !errors.Is(err, privacy.ErrConflict) {
		t.Errorf("second create: %v, want ErrConflict", err)
	}
	// An update with a stale ETag appends nothing; with the right one it
	// appends, and an event appended before (aud-1) is not appended twice.
	stale := *r
	stale.ETag = "stale"
	if err := s.UpdateRequestWithAudit(t.Context(), &stale, []*privacy.AuditEvent{event("aud-3")}); !errors.Is(err, privacy.ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
	if err := s.UpdateRequestWithAudit(t.Context(), r, []*privacy.AuditEvent{event("aud-1"), event("aud-4")}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"aud-1", "aud-4"}, actions(t, s)); diff != "" {
		t.Errorf("audit chain (-want +got):\n%s", diff)
	}
	if err := privacy.VerifyChain(0, "", mustList(t, s)); err != nil {
		t.Errorf("chain does not verify: %v", err)
	}
	got, err := s.GetRequest(t.Context(), "acme", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ETag != r.ETag {
		t.Errorf("stored ETag %q, want the update's %q", got.ETag, r.ETag)
	}
}

func mustList(tb testing.TB, s *Store) []privacy.AuditEvent {
	tb.Helper()
	evs, err := s.ListAudit(tb.Context(), "acme", 0, 100)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}
