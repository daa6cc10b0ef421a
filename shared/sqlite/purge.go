package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/privops/privops/shared/privacy"
)

// The offboarding purge (shared/offboard): a tenant's documents counted and
// deleted kind by kind, a bounded batch per call, and its queue messages.
// Every statement names the tenant, so no other tenant's row is touched.

// tenantTables maps a data kind to its table; each is keyed by tenant_id
// first, so a kind's rows of one tenant are a range of the primary key. The
// tenant's breach notices are the rows of kind 'notice' in breach_docs (the
// operator's incidents are in the partition '_operator', never a tenant's).
var tenantTables = map[string]string{
	privacy.DataKindRequests:      "requests",
	privacy.DataKindInbound:       "inbound",
	privacy.DataKindItems:         "data_items",
	privacy.DataKindAudit:         "audit",
	privacy.DataKindBreachNotices: "breach_docs",
}

// tenantFilter narrows a table to the kind's rows of one tenant.
func tenantFilter(table string) string {
	if table == "breach_docs" {
		return "kind = '" + kindNotice + "' AND tenant_id = ?"
	}
	return "tenant_id = ?"
}

func tenantTable(kind string) (string, error) {
	table, ok := tenantTables[kind]
	if !ok {
		return "", fmt.Errorf("unknown data kind %q", kind)
	}
	return table, nil
}

// CountTenantData returns how many rows of kind the tenant has (expired
// inbound rows included: they are still on disk).
func (s *Store) CountTenantData(ctx context.Context, tenantID, kind string) (int, error) {
	table, err := tenantTable(kind)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.r.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+tenantFilter(table), tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", kind, translate(err))
	}
	return n, nil
}

// PurgeTenantData deletes up to limit rows of kind of the tenant, in one
// transaction, and returns how many it deleted (0: none left).
func (s *Store) PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error) {
	table, err := tenantTable(kind)
	if err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = 500
	}
	var n int64
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		// rowid is absent from WITHOUT ROWID tables; the primary key columns
		// after tenant_id pick the batch instead.
		key := map[string]string{"requests": "id", "inbound": "id", "data_items": "container || char(0) || id", "audit": "seq",
			"breach_docs": "id"}[table]
		where := tenantFilter(table)
		if table == "audit" {
			s.db.heads.forget(tenantID) // the chain's head may be among the rows deleted
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE "+where+" AND "+key+" IN (SELECT "+key+
			" FROM "+table+" WHERE "+where+" ORDER BY "+key+" LIMIT ?)", tenantID, tenantID, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", kind, translate(err))
	}
	return int(n), nil
}

// DeleteTenant deletes the tenant document, and any of its mails still in
// the spool (none, normally: they are sent within moments, and an offboarded
// tenant took no submissions for its notice period); an absent one is no
// error.
func (s *Store) DeleteTenant(ctx context.Context, tenantID string) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM mail_spool WHERE tenant_id = ?", tenantID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM tenants WHERE id = ?", tenantID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete tenant %s: %w", tenantID, translate(err))
	}
	return nil
}

// tenantMessage is the condition of a queue message of one tenant: every
// body is a JSON object naming its tenant in "tenantid" (CloudEvents
// messages and the inbound contract alike); a body that is not JSON belongs
// to no tenant.
const tenantMessage = `CASE WHEN json_valid(CAST(body AS TEXT)) THEN json_extract(CAST(body AS TEXT), '$.tenantid') END = ?`

// CountTenantMessages counts the tenant's messages in every queue, live,
// scheduled, leased or dead-lettered. It reads every message body: an
// offboarding's cost, not a hot path.
func (q *Queue) CountTenantMessages(ctx context.Context, tenantID string) (int, error) {
	var n int
	if err := q.db.r.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE "+tenantMessage, tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tenant messages: %w", translate(err))
	}
	return n, nil
}

// PurgeTenantMessages deletes up to limit of the tenant's messages in every
// queue and returns how many (0: none left). A message under a lease is
// deleted too: its consumer's settlement then fails as a lost lease.
func (q *Queue) PurgeTenantMessages(ctx context.Context, tenantID string, limit int) (int, error) {
	if limit <= 0 {
		limit = 500
	}
	var n int64
	err := q.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE "+tenantMessage+
			" ORDER BY seq LIMIT ?)", tenantID, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge tenant messages: %w", translate(err))
	}
	return int(n), nil
}
