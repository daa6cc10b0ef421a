package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// The mail spool holds mails that must follow a committed write until they
// have been sent (CreateRequestWithMail stores them; the sender reads and
// deletes them). The rows are sealed by the service: opaque here.

// spoolMails inserts mails inside tx.
func spoolMails(ctx context.Context, tx *sql.Tx, st *writerStmts, mails []privacy.SpooledMail) error {
	for _, m := range mails {
		if m.ID == "" || m.TenantID == "" || len(m.Sealed) == 0 {
			return errors.New("spool mail: id, tenant id and sealed mail are required")
		}
		if _, err := st.exec(ctx, tx, stmtSpoolMail, m.ID, m.TenantID, nanos(m.CreatedAt), m.Sealed); err != nil {
			return fmt.Errorf("spool mail %s: %w", m.ID, err)
		}
	}
	return nil
}

// SpooledMails returns up to limit (at most 1000) spooled mails created
// before the given time, oldest first.
func (s *Store) SpooledMails(ctx context.Context, before time.Time, limit int) ([]privacy.SpooledMail, error) {
	rows, err := s.db.r.QueryContext(ctx, "SELECT id, tenant_id, created_at, sealed FROM mail_spool WHERE created_at < ? ORDER BY created_at LIMIT ?",
		nanos(before), pageSize(limit, 100))
	if err != nil {
		return nil, fmt.Errorf("list spooled mails: %w", translate(err))
	}
	defer rows.Close()
	var out []privacy.SpooledMail
	for rows.Next() {
		var m privacy.SpooledMail
		var at int64
		if err := rows.Scan(&m.ID, &m.TenantID, &at, &m.Sealed); err != nil {
			return nil, fmt.Errorf("list spooled mails: %w", translate(err))
		}
		m.CreatedAt = fromNanos(at)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list spooled mails: %w", translate(err))
	}
	return out, nil
}

// DeleteSpooledMails deletes the spooled mails with these ids (sent ones), in
// one write; ids not in the spool are ignored, so it is idempotent.
func (s *Store) DeleteSpooledMails(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500) // below SQLite's bound on parameters
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		q := "DELETE FROM mail_spool WHERE id IN (?" + strings.Repeat(", ?", n-1) + ")"
		if err := s.db.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		}); err != nil {
			return fmt.Errorf("delete spooled mails: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}
