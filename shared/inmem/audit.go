package inmem

import (
	"context"
	"fmt"

	"github.com/privops/privops/shared/privacy"
)

// AppendAudit appends a copy of e to its tenant's chain after setting e.Seq,
// e.PrevHash and e.Hash (privacy.Seal), atomically with respect to concurrent
// appends. It is idempotent by e.ID, which is required: if the chain holds an
// event with that id, nothing is appended and e is filled from the stored event.
func (s *Store) AppendAudit(ctx context.Context, e *privacy.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	if e.TenantID == "" || e.ID == "" {
		return fmt.Errorf("append audit event: tenant id and event id are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	chain := s.audit[e.TenantID]
	if i, ok := s.auditIDs[docKey{e.TenantID, e.ID}]; ok {
		cp, err := clone(&chain[i])
		if err != nil {
			return fmt.Errorf("append audit event %s: %w", e.ID, err)
		}
		*e = *cp
		return nil
	}
	sealed := *e
	if n := len(chain); n > 0 {
		privacy.Seal(&sealed, &chain[n-1])
	} else {
		privacy.Seal(&sealed, nil)
	}
	cp, err := clone(&sealed)
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	s.auditIDs[docKey{e.TenantID, e.ID}] = len(chain)
	s.audit[e.TenantID] = append(chain, *cp)
	*e = sealed
	return nil
}

// ListAudit returns copies of up to limit (default 100, at most 1000) events of
// a tenant with Seq > afterSeq, in Seq order.
func (s *Store) ListAudit(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]privacy.AuditEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	chain := s.audit[tenantID]
	// Seq n is at index n-1: the chain is gapless from 1.
	start := min(max(afterSeq, 0), int64(len(chain)))
	end := min(start+int64(pageSize(limit, 100)), int64(len(chain)))
	out := make([]privacy.AuditEvent, 0, end-start)
	for _, e := range chain[start:end] {
		cp, err := clone(&e)
		if err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		out = append(out, *cp)
	}
	return out, nil
}
