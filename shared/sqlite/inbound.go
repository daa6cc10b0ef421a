package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/privops/privops/shared/privacy"
)

var _ privacy.InboundLog = (*Store)(nil)

// purgeBatch bounds the expired inbound rows one CreateInbound deletes.
const purgeBatch = 100

// live is the condition of an unexpired inbound row; its one parameter is now.
const live = "(expires_at IS NULL OR expires_at > ?)"

// CreateInbound stores r under (r.TenantID, r.ID) and sets r.ETag. It returns
// a wrapped privacy.ErrConflict if the tenant has an unexpired record with
// that id (the deduplication check); an expired one is replaced. In the same
// transaction it purges up to purgeBatch expired rows of any tenant.
func (s *Store) CreateInbound(ctx context.Context, r *privacy.InboundRecord) error {
	if r.TenantID == "" || r.ID == "" {
		return errors.New("create inbound record: tenant id and record id are required")
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("create inbound record %s: %w", r.ID, err)
	}
	etag := newToken()
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		now := nanos(s.db.opts.Now())
		if _, err := tx.ExecContext(ctx, `DELETE FROM inbound WHERE (tenant_id, id) IN
			(SELECT tenant_id, id FROM inbound WHERE expires_at <= ? LIMIT ?)`, now, purgeBatch); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM inbound WHERE tenant_id = ? AND id = ? AND expires_at <= ?",
			r.TenantID, r.ID, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO inbound (tenant_id, id, etag, status, received_at, expires_at, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.TenantID, r.ID, etag, string(r.Status), nanos(r.ReceivedAt), nullNanos(r.ExpiresAt), string(doc))
		return err
	})
	if err != nil {
		return fmt.Errorf("create inbound record %s: %w", r.ID, err)
	}
	r.ETag = etag
	return nil
}

// GetInbound reads a tenant's record. It returns a wrapped
// privacy.ErrNotFound if absent, stored under another tenant, or expired.
func (s *Store) GetInbound(ctx context.Context, tenantID, id string) (*privacy.InboundRecord, error) {
	r := new(privacy.InboundRecord)
	err := scanDoc(s.db.r.QueryRowContext(ctx, "SELECT etag, doc FROM inbound WHERE tenant_id = ? AND id = ? AND "+live,
		tenantID, id, nanos(s.db.opts.Now())), r, &r.ETag)
	if err != nil {
		return nil, fmt.Errorf("get inbound record %s: %w", id, err)
	}
	return r, nil
}

// UpdateInbound replaces the record if r.ETag matches the stored one (an
// empty ETag never matches) and sets r.ETag to the new value. It returns a
// wrapped privacy.ErrConflict on a mismatch and privacy.ErrNotFound if the
// tenant has no such record or it has expired.
func (s *Store) UpdateInbound(ctx context.Context, r *privacy.InboundRecord) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("update inbound record %s: %w", r.ID, err)
	}
	etag := newToken()
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		now := nanos(s.db.opts.Now())
		res, err := tx.ExecContext(ctx, `UPDATE inbound SET etag = ?, status = ?, received_at = ?, expires_at = ?, doc = ?
			WHERE tenant_id = ? AND id = ? AND etag = ? AND `+live,
			etag, string(r.Status), nanos(r.ReceivedAt), nullNanos(r.ExpiresAt), string(doc), r.TenantID, r.ID, r.ETag, now)
		if err != nil {
			return err
		}
		return updated(ctx, tx, res, "SELECT 1 FROM inbound WHERE tenant_id = ? AND id = ? AND "+live, r.TenantID, r.ID, now)
	})
	if err != nil {
		return fmt.Errorf("update inbound record %s: %w", r.ID, err)
	}
	r.ETag = etag
	return nil
}

// inboundCursor is the position after which a page of inbound records starts
// (the last record returned), bound to the listing it was made for.
type inboundCursor struct {
	Listing    string `json:"l"`
	ReceivedAt int64  `json:"r"` // Unix ns
	ID         string `json:"i"`
}

// inboundListing identifies a listing: its tenant and status filter.
func inboundListing(tenantID string, status privacy.InboundStatus) string {
	h := sha256.Sum256([]byte("inbound\x00" + tenantID + "\x00" + string(status)))
	return hex.EncodeToString(h[:8])
}

func decodeInboundCursor(s, listing string) (inboundCursor, error) {
	var c inboundCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" || c.Listing != listing {
		return inboundCursor{}, privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "the page cursor is not valid")
	}
	return c, nil
}

// ListInbound returns a page of a tenant's unexpired records, newest
// ReceivedAt first (ties by id, descending), filtered by f.Status when set.
// f.Limit defaults to 50 and is capped at 1000. A cursor that is malformed or
// was made for another tenant or filter returns a wrapped *privacy.Error
// "invalid-cursor" of KindInvalid.
func (s *Store) ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error) {
	listing := inboundListing(tenantID, f.Status)
	q := strings.Builder{}
	q.WriteString("SELECT etag, doc FROM inbound WHERE tenant_id = ? AND " + live)
	args := []any{tenantID, nanos(s.db.opts.Now())}
	if f.Status != "" {
		q.WriteString(" AND status = ?")
		args = append(args, string(f.Status))
	}
	if f.Cursor != "" {
		c, err := decodeInboundCursor(f.Cursor, listing)
		if err != nil {
			return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", err)
		}
		q.WriteString(" AND (received_at < ? OR (received_at = ? AND id < ?))")
		args = append(args, c.ReceivedAt, c.ReceivedAt, c.ID)
	}
	limit := pageSize(f.Limit, defaultPage)
	q.WriteString(" ORDER BY received_at DESC, id DESC LIMIT ?")
	args = append(args, limit+1) // one more tells whether there is a next page
	rows, err := s.db.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", translate(err))
	}
	recs, err := scanDocs(rows, func(r *privacy.InboundRecord) *string { return &r.ETag })
	if err != nil {
		return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", err)
	}
	page := privacy.InboundPage{Records: recs}
	if len(recs) > limit {
		last := recs[limit-1]
		page.Records = recs[:limit]
		b, _ := json.Marshal(inboundCursor{Listing: listing, ReceivedAt: nanos(last.ReceivedAt), ID: last.ID})
		page.Next = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, nil
}
