package dsr_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/privacy"
)

// auditingStore is the in-memory store with the write that also appends
// audit events (as the SQLite store has it), counting the writes it sees.
type auditingStore struct {
	*inmem.Store
	mu     sync.Mutex
	writes []string
}

func (s *auditingStore) note(w string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, w)
}

func (s *auditingStore) CreateRequest(ctx context.Context, r *privacy.Request) error {
	s.note("create")
	return s.Store.CreateRequest(ctx, r)
}

func (s *auditingStore) UpdateRequest(ctx context.Context, r *privacy.Request) error {
	s.note("update")
	return s.Store.UpdateRequest(ctx, r)
}

func (s *auditingStore) AppendAudit(ctx context.Context, e *privacy.AuditEvent) error {
	s.note("append")
	return s.Store.AppendAudit(ctx, e)
}

func (s *auditingStore) CreateRequestWithAudit(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent) error {
	s.note("create+audit")
	if err := s.Store.CreateRequest(ctx, r); err != nil {
		return err
	}
	for _, e := range events {
		if err := s.Store.AppendAudit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *auditingStore) UpdateRequestWithAudit(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent) error {
	s.note("update+audit")
	if err := s.Store.UpdateRequest(ctx, r); err != nil {
		return err
	}
	for _, e := range events {
		if err := s.Store.AppendAudit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// With a store that writes audit events with the request, a submission is
// one write (its audit entry in it, its outbox empty) and a verification one
// write plus the outbox's notice and the write that clears it; the audit
// chain holds the same entries as through the outbox.
func TestAuditEventsWrittenWithTheRequest(t *testing.T) {
	t.Parallel()
	store := &auditingStore{Store: inmem.NewStore()}
	mail := &mailbox{}
	now := time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)
	svc, err := dsr.New(dsr.Config{NoticesQueue: queueName, CodeTTL: 15 * time.Minute, MaxAttempts: 5, MaxCodeSends: 3, OutboxLease: time.Minute},
		dsr.Keys{Subject: bytes.Repeat([]byte{1}, 32), Token: bytes.Repeat([]byte{2}, 32)},
		dsr.Deps{Store: store, Publisher: inmem.NewQueue(inmem.QueueOptions{}), Mailer: mail, Now: func() time.Time { return now },
			Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureTenant(ctx, &privacy.Tenant{ID: "acme", Name: "ACME", Regimes: privacy.Regimes,
		TimeZone: "Europe/Berlin", PIPLDays: 30, DefaultDays: 30}); err != nil {
		t.Fatal(err)
	}
	store.writes = nil
	res, err := svc.Submit(ctx, "acme", validSubmission(), "", dsr.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"create+audit"}, store.writes); diff != "" {
		t.Errorf("submission writes (-want +got):\n%s", diff)
	}
	stored, err := store.GetRequest(ctx, "acme", res.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Outbox) != 0 {
		t.Errorf("stored outbox holds %d events, want none", len(stored.Outbox))
	}
	store.writes = nil
	if _, err := svc.Verify(ctx, "acme", res.Request.ID, mail.lastCode(t)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"update+audit", "update+audit"}, store.writes); diff != "" {
		t.Errorf("verification writes (-want +got):\n%s", diff)
	}
	evs, err := store.ListAudit(ctx, "acme", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Action)
	}
	if diff := cmp.Diff([]string{"tenant.created", "request.submitted", "request.verified"}, got); diff != "" {
		t.Errorf("audit actions (-want +got):\n%s", diff)
	}
}
