package dsr

import (
	"context"
	"fmt"
	"slices"

	"github.com/privops/privops/shared/privacy"
)

// auditingStore is a store that writes a request and appends audit events to
// their chains in one atomic write (the SQLite store: one transaction). With
// it, the audit events of a request's outbox are not carried out after the
// write by Flush (an append each, then a write that clears them): they are
// part of the write itself. A submission is one durable write instead of
// three, a task's progress one instead of three, and there is no moment in
// which the request is stored and its audit entry is not. Stores without it
// (Cosmos DB, which has no transactions across documents; the in-memory
// test store) keep the outbox path.
type auditingStore interface {
	CreateRequestWithAudit(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent) error
	UpdateRequestWithAudit(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent) error
}

// auditingStore returns the store as an auditingStore when it is one and the
// outbox is carried out inline (with OUTBOX_DISPATCH=changefeed the outbox
// function carries it out).
func (s *Service) auditingStore() (auditingStore, bool) {
	if s.cfg.DeferOutbox {
		return nil, false
	}
	a, ok := s.d.Store.(auditingStore)
	return a, ok
}

// takeAudits removes the audit events from r's outbox and returns them, and
// a function that puts the outbox back as it was (after a failed write).
func takeAudits(r *privacy.Request) ([]*privacy.AuditEvent, func()) {
	before := r.Outbox
	var events []*privacy.AuditEvent
	var rest []privacy.OutboxEvent
	for _, ev := range r.Outbox {
		if ev.Audit != nil && ev.Message == nil {
			a := *ev.Audit
			events = append(events, &a)
			continue
		}
		rest = append(rest, ev)
	}
	if len(events) > 0 {
		r.Outbox = rest
	}
	return events, func() { r.Outbox = slices.Clone(before) }
}

// createRequest stores a new request: with its outbox's audit events in the
// same write when the store can.
func (s *Service) createRequest(ctx context.Context, r *privacy.Request) error {
	a, ok := s.auditingStore()
	if !ok {
		return s.d.Store.CreateRequest(ctx, r)
	}
	events, restore := takeAudits(r)
	if err := a.CreateRequestWithAudit(ctx, r, events); err != nil {
		restore()
		return err
	}
	return nil
}

// createRequestSpooling is createRequest for a store that spools: the
// request, its outbox's audit events and the mail m (sealed) in one write.
func (s *Service) createRequestSpooling(ctx context.Context, st spoolingStore, r *privacy.Request, m privacy.Mail) error {
	sealed, err := s.sealMail(m)
	if err != nil {
		return fmt.Errorf("seal mail: %w", err)
	}
	events, restore := takeAudits(r)
	if err := st.CreateRequestWithMail(ctx, r, events, []privacy.SpooledMail{{ID: m.ID, TenantID: r.TenantID, CreatedAt: r.CreatedAt, Sealed: sealed}}); err != nil {
		restore()
		return err
	}
	return nil
}

// updateRequest writes r guarded by its ETag: with its outbox's audit events
// in the same write when the store can.
func (s *Service) updateRequest(ctx context.Context, r *privacy.Request) error {
	a, ok := s.auditingStore()
	if !ok {
		return s.d.Store.UpdateRequest(ctx, r)
	}
	events, restore := takeAudits(r)
	if err := a.UpdateRequestWithAudit(ctx, r, events); err != nil {
		restore()
		return err
	}
	return nil
}
