package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// The offboarding purge of the data-subject fan-out's tables (shared/offboard):
// a tenant's recipient lists, ledger and campaigns counted and deleted kind by
// kind, a bounded batch per call. Every statement names the tenant.

// breachTable is a table of a purge kind of the fan-out: its tables, in the order they
// are emptied, with the primary key columns that pick a batch.
type breachTable struct{ table, key string }

var breachKinds = map[string][]breachTable{
	// The lists first, then the records of staged lists (which only say
	// when a list's rows must go).
	privacy.DataKindBreachRecipients: {{"breach_recipients", "incident_id, list_id, seq"}, {"breach_staged", "incident_id, list_id"}},
	privacy.DataKindBreachLedger:     {{"breach_ledger", "incident_id, recipient_key, channel, version"}},
	// The campaigns last: a batch message of a campaign that is gone sends
	// nothing. Their batch claims go with them.
	privacy.DataKindBreachCampaigns: {{"breach_claims", "incident_id, batch"}, {"breach_campaigns", "incident_id"}},
}

func breachTables(kind string) ([]breachTable, error) {
	ts, ok := breachKinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown data kind %q", kind)
	}
	return ts, nil
}

// CountTenantData returns how many rows of the fan-out's kind the tenant has.
func (s *BreachStore) CountTenantData(ctx context.Context, tenantID, kind string) (int, error) {
	ts, err := breachTables(kind)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, t := range ts {
		var n int
		if err := s.db.r.QueryRowContext(ctx, "SELECT count(*) FROM "+t.table+" WHERE tenant_id = ?", tenantID).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", kind, translate(err))
		}
		total += n
	}
	return total, nil
}

// PurgeTenantData deletes up to limit rows of the fan-out's kind of the
// tenant, table by table, in one transaction, and returns how many it
// deleted (0: none left).
func (s *BreachStore) PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error) {
	ts, err := breachTables(kind)
	if err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = 500
	}
	var n int64
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, t := range ts {
			res, err := tx.ExecContext(ctx, "DELETE FROM "+t.table+" WHERE tenant_id = ? AND ("+t.key+") IN (SELECT "+t.key+
				" FROM "+t.table+" WHERE tenant_id = ? ORDER BY "+t.key+" LIMIT ?)", tenantID, tenantID, limit-int(n))
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n += k; n >= int64(limit) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", kind, translate(err))
	}
	return int(n), nil
}

// TenantCampaigns returns the incident ids of the tenant's campaigns in state.
func (s *BreachStore) TenantCampaigns(ctx context.Context, tenantID, state string) ([]string, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT incident_id FROM breach_campaigns
		WHERE tenant_id = ? AND json_extract(doc, '$.state') = ? ORDER BY incident_id`, tenantID, state)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", translate(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list campaigns: %w", translate(err))
		}
		out = append(out, id)
	}
	return out, translate(rows.Err())
}

// LiveClaims counts the tenant's batch claims that run past now: deliveries
// in flight (or crashed less than a claim's lease ago).
func (s *BreachStore) LiveClaims(ctx context.Context, tenantID string, now time.Time) (int, error) {
	var n int
	if err := s.db.r.QueryRowContext(ctx, "SELECT count(*) FROM breach_claims WHERE tenant_id = ? AND until > ?",
		tenantID, nanos(now)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count batch claims: %w", translate(err))
	}
	return n, nil
}
