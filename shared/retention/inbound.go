package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/privops/privops/shared/privacy"
)

// InboundRecords is what a sweep needs of the inbound ledger
// (privacy.InboundLog) to remove the bodies of rejected messages: a rejected
// message keeps its exact body, which may hold personal data, for a replay
// until INBOUND_KEEP_REJECTED; a tenant's rejected-inbound policy removes it
// sooner. UpdateInbound is ETag-guarded.
type InboundRecords interface {
	ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error)
	GetInbound(ctx context.Context, tenantID, id string) (*privacy.InboundRecord, error)
	UpdateInbound(ctx context.Context, r *privacy.InboundRecord) error
}

// scanInbound reads one page of the tenant's rejected inbound records after
// cursor and decides each body kept: its event is the message's arrival. The
// body names no subject the sweep can hash (it is not parsed): tenant and
// rejected-inbound holds keep it, and so does any active subject hold.
func (s *Sweeper) scanInbound(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, cursor string) (*Page, []*privacy.InboundRecord, error) {
	page := &Page{From: cursor}
	if cursor == endOfRequests {
		return page, nil, nil
	}
	res, err := s.d.Inbound.ListInbound(ctx, t.ID, privacy.InboundFilter{Status: privacy.InboundRejected, Limit: min(s.cfg.PageSize, 100), Cursor: cursor})
	if err != nil {
		return nil, nil, err
	}
	// A body may be about any subject: while a subject hold is active, no
	// body is removed before its keep ends (INBOUND_KEEP_REJECTED).
	subjectHeld := slices.ContainsFunc(t.Holds, func(h privacy.Hold) bool { return h.Scope == privacy.HoldSubject && h.ReleasedAt.IsZero() })
	var purge []*privacy.InboundRecord
	for _, r := range res.Records {
		if len(r.Body) == 0 {
			continue
		}
		o, _ := pr.Decide(t, Item{Event: r.ReceivedAt})
		if o == Purge && subjectHeld {
			o = KeptByHold
		}
		page.Counts.Count(o, r.ReceivedAt)
		if o == Purge {
			purge = append(purge, r)
		}
	}
	page.To = res.Next
	if page.To == "" {
		page.To = endOfRequests
	}
	return page, purge, nil
}

// stripInbound removes each rejected record's body and application
// properties (one ETag-guarded write each, re-read on a conflict); the
// record stays in the ledger with its code and reason. A replay skips it.
func (s *Sweeper) stripInbound(ctx context.Context, t *privacy.Tenant, purge []*privacy.InboundRecord) error {
	for _, r := range purge {
		for attempt := 0; ; attempt++ {
			if len(r.Body) == 0 || r.Status != privacy.InboundRejected {
				break
			}
			r.Body, r.Properties = nil, nil
			err := s.d.Inbound.UpdateInbound(ctx, r)
			if err == nil || errors.Is(err, privacy.ErrNotFound) { // expired meanwhile: gone
				break
			}
			if !errors.Is(err, privacy.ErrConflict) || attempt == 4 {
				return fmt.Errorf("strip inbound body: %w", err)
			}
			if r, err = s.d.Inbound.GetInbound(ctx, t.ID, r.ID); errors.Is(err, privacy.ErrNotFound) {
				break
			} else if err != nil {
				return fmt.Errorf("strip inbound body: %w", err)
			}
		}
	}
	return nil
}

// pageInbound is page for rejected inbound bodies: scan, checkpoint, strip,
// fold.
func (s *Sweeper) pageInbound(ctx context.Context, t *privacy.Tenant, st State, owner string) (*privacy.Tenant, error) {
	run := st.Current
	return s.pageOf(ctx, t, st, owner, pageStep{fail: "the inbound ledger could not be read", finish: true},
		func(pr *PolicyReport) (*Page, func(*privacy.Tenant) error, error) {
			page, purge, err := s.scanInbound(ctx, t, pr, run.Cursor)
			return page, func(t *privacy.Tenant) error { return s.stripInbound(ctx, t, purge) }, err
		})
}

// redoInbound finishes a pending page of rejected bodies.
func (s *Sweeper) redoInbound(ctx context.Context, t *privacy.Tenant, run *Run) error {
	p := run.Pending
	_, purge, err := s.scanInbound(ctx, t, &run.Policies[p.Policy], p.From)
	if err != nil {
		return err
	}
	return s.stripInbound(ctx, t, purge)
}
