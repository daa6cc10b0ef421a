package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/privops/privops/shared/privacy"
)

// AppendAudit appends e to its tenant's chain in one transaction: it reads the
// chain's head, seals e after it (setting e.Seq, e.PrevHash and e.Hash) and
// inserts it, so concurrent appends never fork the chain. It is idempotent by
// e.ID, which is required: if the chain holds an event with that id, nothing is
// appended and e is filled from the stored event.
func (s *Store) AppendAudit(ctx context.Context, e *privacy.AuditEvent) error {
	if e.TenantID == "" || e.ID == "" {
		return errors.New("append audit event: tenant id and event id are required")
	}
	var result privacy.AuditEvent
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		var err error
		result, err = appendAudit(ctx, tx, s.db.st, s.db.heads, e)
		return err
	})
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	*e = result
	return nil
}

// appendAudit is AppendAudit inside the writer's transaction tx: it returns
// the stored event (the one appended, or the one already there with e's id).
// It seals e after the chain's head as the writer's cache knows it (see
// headCache), reading it from the file only when the cache does not, and
// inserts it unless the chain holds e's id already: three statements became
// one on the hot path, and that one is prepared once (stmts.go).
func appendAudit(ctx context.Context, tx *sql.Tx, st *writerStmts, heads *headCache, e *privacy.AuditEvent) (privacy.AuditEvent, error) {
	var prev *privacy.AuditEvent // nil for the first event
	if h, ok := heads.head(ctx, tx, st, e.TenantID); ok {
		prev = &privacy.AuditEvent{Seq: h.seq, Hash: h.hash}
	} else {
		head, err := auditRow(tx.QueryRowContext(ctx,
			"SELECT doc FROM audit WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1", e.TenantID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return privacy.AuditEvent{}, err
		}
		prev = head
	}
	result := *e
	privacy.Seal(&result, prev)
	doc, err := json.Marshal(result)
	if err != nil {
		return privacy.AuditEvent{}, err
	}
	// A conflict on the event id is the idempotent repeat; one on the
	// sequence (a head that moved) is an error, never a fork.
	res, err := st.exec(ctx, tx, stmtInsertAudit, result.TenantID, result.Seq, result.ID, string(doc))
	if err != nil {
		return privacy.AuditEvent{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return privacy.AuditEvent{}, err
	} else if n == 0 { // e's id is in the chain: nothing appended
		stored, err := auditRow(tx.QueryRowContext(ctx,
			"SELECT doc FROM audit WHERE tenant_id = ? AND event_id = ?", e.TenantID, e.ID))
		if err != nil {
			return privacy.AuditEvent{}, err
		}
		return *stored, nil
	}
	heads.appended(result.TenantID, result.Seq, result.Hash)
	return result, nil
}

// appendAudits appends events, in order, inside tx, and fills each from what
// was stored; for CreateRequestWithAudit and UpdateRequestWithAudit.
func appendAudits(ctx context.Context, tx *sql.Tx, st *writerStmts, heads *headCache, events []*privacy.AuditEvent) error {
	for _, e := range events {
		if e.TenantID == "" || e.ID == "" {
			return errors.New("append audit event: tenant id and event id are required")
		}
		stored, err := appendAudit(ctx, tx, st, heads, e)
		if err != nil {
			return fmt.Errorf("append audit event %s: %w", e.ID, err)
		}
		*e = stored
	}
	return nil
}

// auditRow decodes one audit doc row; sql.ErrNoRows if there is none.
func auditRow(row *sql.Row) (*privacy.AuditEvent, error) {
	var doc []byte
	if err := row.Scan(&doc); err != nil {
		return nil, err
	}
	e := new(privacy.AuditEvent)
	if err := json.Unmarshal(doc, e); err != nil {
		return nil, fmt.Errorf("decode stored audit event: %w", err)
	}
	return e, nil
}

// ListAudit returns up to limit (default 100, at most 1000) events of a tenant
// with Seq > afterSeq, in Seq order.
func (s *Store) ListAudit(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]privacy.AuditEvent, error) {
	rows, err := s.db.r.QueryContext(ctx,
		"SELECT doc FROM audit WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?", tenantID, afterSeq, pageSize(limit, 100))
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", translate(err))
	}
	defer rows.Close()
	out := []privacy.AuditEvent{}
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list audit events: %w", translate(err))
		}
		var e privacy.AuditEvent
		if err := json.Unmarshal(doc, &e); err != nil {
			return nil, fmt.Errorf("list audit events: decode: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", translate(err))
	}
	return out, nil
}
