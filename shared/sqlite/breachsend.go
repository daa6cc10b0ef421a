package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

var _ breachsend.Store = (*BreachStore)(nil)

// BreachStore is the breach subject fan-out's store (migration 0005):
// campaigns with their counters, recipient lists and the delivery ledger.
type BreachStore struct{ db *DB }

// BreachSend returns the DB's breach fan-out store.
func (db *DB) BreachSend() *BreachStore { return &BreachStore{db: db} }

// GetCampaign reads a campaign with its counters. ErrNotFound if absent.
func (s *BreachStore) GetCampaign(ctx context.Context, tenantID, incidentID string) (*breachsend.Campaign, error) {
	c := new(breachsend.Campaign)
	var doc []byte
	err := s.db.r.QueryRowContext(ctx, `SELECT etag, doc, sent, failed, bounced FROM breach_campaigns
		WHERE tenant_id = ? AND incident_id = ?`, tenantID, incidentID).Scan(&c.ETag, &doc, &c.Sent, &c.Failed, &c.Bounced)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("get campaign: %w", privacy.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("get campaign: %w", translate(err))
	}
	etag := c.ETag
	sent, failed, bounced := c.Sent, c.Failed, c.Bounced
	if err := json.Unmarshal(doc, c); err != nil {
		return nil, fmt.Errorf("get campaign: decode: %w", err)
	}
	c.ETag, c.Sent, c.Failed, c.Bounced = etag, sent, failed, bounced
	return c, nil
}

// PutCampaign creates c (ETag "") or replaces it if its ETag matches; the
// counters are left alone.
func (s *BreachStore) PutCampaign(ctx context.Context, c *breachsend.Campaign) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("put campaign: %w", err)
	}
	etag := newToken()
	purge := nullNanos(c.NextPurge())
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		if c.ETag == "" {
			_, err := tx.ExecContext(ctx, `INSERT INTO breach_campaigns (tenant_id, incident_id, etag, purge_at, doc)
				VALUES (?, ?, ?, ?, ?)`, c.TenantID, c.IncidentID, etag, purge, string(doc))
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE breach_campaigns SET etag = ?, purge_at = ?, doc = ?
			WHERE tenant_id = ? AND incident_id = ? AND etag = ?`, etag, purge, string(doc), c.TenantID, c.IncidentID, c.ETag)
		if err != nil {
			return err
		}
		return updated(ctx, tx, res, "SELECT 1 FROM breach_campaigns WHERE tenant_id = ? AND incident_id = ?", c.TenantID, c.IncidentID)
	})
	if err != nil {
		return fmt.Errorf("put campaign: %w", translate(err))
	}
	c.ETag = etag
	return nil
}

// AddRecipients stores rs in list, numbering the new ones from next on and
// skipping addresses the list holds; it returns the next free number.
func (s *BreachStore) AddRecipients(ctx context.Context, tenantID, incidentID, listID string, next int64, rs []breachsend.Recipient) (int64, error) {
	n := next
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		n = next
		st, err := tx.PrepareContext(ctx, `INSERT INTO breach_recipients
			(tenant_id, incident_id, list_id, seq, addr_key, email, language, name, identifier)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rs {
			res, err := st.ExecContext(ctx, tenantID, incidentID, listID, n, r.Key, r.Email, r.Language, r.Name, r.Identifier)
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil {
				return err
			} else if k == 1 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return next, fmt.Errorf("add recipients: %w", translate(err))
	}
	return n, nil
}

// DeleteList deletes up to limit recipients of list.
func (s *BreachStore) DeleteList(ctx context.Context, tenantID, incidentID, listID string, limit int) (int, error) {
	return s.deleteSome(ctx, "delete recipients", `DELETE FROM breach_recipients WHERE (tenant_id, incident_id, list_id, seq) IN
		(SELECT tenant_id, incident_id, list_id, seq FROM breach_recipients WHERE tenant_id = ? AND incident_id = ? AND list_id = ? LIMIT ?)`,
		tenantID, incidentID, listID, limit)
}

// DeleteLedger deletes up to limit ledger rows of an incident.
func (s *BreachStore) DeleteLedger(ctx context.Context, tenantID, incidentID string, limit int) (int, error) {
	return s.deleteSome(ctx, "delete ledger", `DELETE FROM breach_ledger WHERE (tenant_id, incident_id, recipient_key, channel, version) IN
		(SELECT tenant_id, incident_id, recipient_key, channel, version FROM breach_ledger WHERE tenant_id = ? AND incident_id = ? LIMIT ?)`,
		tenantID, incidentID, limit)
}

func (s *BreachStore) deleteSome(ctx context.Context, op, stmt string, args ...any) (int, error) {
	var n int64
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, stmt, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, translate(err))
	}
	return int(n), nil
}

// Deliveries returns recipients from..to of list with their ledger state.
func (s *BreachStore) Deliveries(ctx context.Context, tenantID, incidentID, listID, channel string, version int, from, to int64) ([]breachsend.Delivery, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT r.seq, r.addr_key, r.email, r.language, r.name, r.identifier,
			COALESCE(l.status, 'pending'), COALESCE(l.attempts, 0), l.next_at
		FROM breach_recipients r LEFT JOIN breach_ledger l ON l.tenant_id = r.tenant_id AND l.incident_id = r.incident_id
			AND l.recipient_key = r.addr_key AND l.channel = ? AND l.version = ?
		WHERE r.tenant_id = ? AND r.incident_id = ? AND r.list_id = ? AND r.seq BETWEEN ? AND ? ORDER BY r.seq`,
		channel, version, tenantID, incidentID, listID, from, to)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", translate(err))
	}
	defer rows.Close()
	out := make([]breachsend.Delivery, 0, max(0, min(to-from+1, 5000)))
	for rows.Next() {
		var d breachsend.Delivery
		var next sql.NullInt64
		if err := rows.Scan(&d.Seq, &d.Key, &d.Email, &d.Language, &d.Name, &d.Identifier, &d.Status, &d.Attempts, &next); err != nil {
			return nil, fmt.Errorf("read deliveries: %w", translate(err))
		}
		if next.Valid {
			d.NextAt = fromNanos(next.Int64)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read deliveries: %w", translate(err))
	}
	return out, nil
}

// Record writes ledger entries, each unless its row is terminal, and counts
// the terminal ones in their campaigns' counters, all in one transaction with
// prepared statements; it reports which entries changed a row.
func (s *BreachStore) Record(ctx context.Context, es ...breachsend.LedgerEntry) ([]bool, error) {
	changed := make([]bool, len(es))
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		clear(changed)
		up, err := tx.PrepareContext(ctx, `INSERT INTO breach_ledger
			(tenant_id, incident_id, recipient_key, channel, version, status, attempts, next_at, at, code, mail_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, incident_id, recipient_key, channel, version) DO UPDATE SET
				status = excluded.status, attempts = excluded.attempts, next_at = excluded.next_at, at = excluded.at,
				code = excluded.code, mail_id = excluded.mail_id
			WHERE breach_ledger.status NOT IN ('sent', 'failed', 'bounced')`)
		if err != nil {
			return err
		}
		defer up.Close()
		type key struct{ tenant, incident string }
		counts := map[key]*[3]int64{}
		for i, e := range es {
			res, err := up.ExecContext(ctx, e.TenantID, e.IncidentID, e.RecipientKey, e.Channel, e.Version, e.Status, e.Attempts,
				nullNanos(e.NextAt), nanos(e.At), e.Code, e.MailID)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed[i] = n == 1
			col := map[string]int{breachsend.StatusSent: 1, breachsend.StatusFailed: 2, breachsend.StatusBounced: 3}[e.Status]
			if !changed[i] || col == 0 {
				continue
			}
			k := key{e.TenantID, e.IncidentID}
			if counts[k] == nil {
				counts[k] = new([3]int64)
			}
			counts[k][col-1]++
		}
		for k, c := range counts {
			if _, err := tx.ExecContext(ctx, `UPDATE breach_campaigns SET sent = sent + ?, failed = failed + ?, bounced = bounced + ?
				WHERE tenant_id = ? AND incident_id = ?`, c[0], c[1], c[2], k.tenant, k.incident); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record deliveries: %w", translate(err))
	}
	return changed, nil
}

// StageList records that listID's rows are purged at purgeAt unless it is
// then the campaign's list.
func (s *BreachStore) StageList(ctx context.Context, tenantID, incidentID, listID string, purgeAt time.Time) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO breach_staged (tenant_id, incident_id, list_id, purge_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO UPDATE SET purge_at = excluded.purge_at`, tenantID, incidentID, listID, nanos(purgeAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("stage list: %w", translate(err))
	}
	return nil
}

// UnstageList removes a staged list's record.
func (s *BreachStore) UnstageList(ctx context.Context, tenantID, incidentID, listID string) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM breach_staged WHERE tenant_id = ? AND incident_id = ? AND list_id = ?",
			tenantID, incidentID, listID)
		return err
	})
	if err != nil {
		return fmt.Errorf("unstage list: %w", translate(err))
	}
	return nil
}

// Expired returns up to limit expired campaign lists and staged lists due
// before now, the earliest first.
func (s *BreachStore) Expired(ctx context.Context, now time.Time, limit int) ([]breachsend.Due, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT tenant_id, incident_id, '', 0, purge_at FROM breach_campaigns
			WHERE purge_at IS NOT NULL AND purge_at <= ?1
		UNION ALL SELECT tenant_id, incident_id, list_id, 1, purge_at FROM breach_staged WHERE purge_at <= ?1
		ORDER BY 5 LIMIT ?2`, nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list expired lists: %w", translate(err))
	}
	defer rows.Close()
	var out []breachsend.Due
	for rows.Next() {
		var d breachsend.Due
		var at int64
		if err := rows.Scan(&d.TenantID, &d.IncidentID, &d.ListID, &d.Staged, &at); err != nil {
			return nil, fmt.Errorf("list expired lists: %w", translate(err))
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// CountRecipients counts the recipient rows an incident holds, in every list
// (the current one, and staged ones not purged yet): what personal data of
// the fan-out the store holds.
func (s *BreachStore) CountRecipients(ctx context.Context, tenantID, incidentID string) (int, error) {
	var n int
	err := s.db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM breach_recipients WHERE tenant_id = ? AND incident_id = ?",
		tenantID, incidentID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recipients: %w", translate(err))
	}
	return n, nil
}

// ClaimBatch gives batch to owner until then, if no other owner holds it past
// now (a renewal by the holder always succeeds); it reports whether owner
// holds it.
func (s *BreachStore) ClaimBatch(ctx context.Context, tenantID, incidentID string, batch int64, owner string, now, until time.Time) (bool, error) {
	var ok bool
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO breach_claims (tenant_id, incident_id, batch, owner, until) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO UPDATE SET owner = excluded.owner, until = excluded.until
			WHERE breach_claims.owner = excluded.owner OR breach_claims.until <= ?`,
			tenantID, incidentID, batch, owner, nanos(until), nanos(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim batch: %w", translate(err))
	}
	return ok, nil
}

// ReleaseBatch ends owner's claim of batch, if it still holds it.
func (s *BreachStore) ReleaseBatch(ctx context.Context, tenantID, incidentID string, batch int64, owner string) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM breach_claims WHERE tenant_id = ? AND incident_id = ? AND batch = ? AND owner = ?",
			tenantID, incidentID, batch, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release batch: %w", translate(err))
	}
	return nil
}
