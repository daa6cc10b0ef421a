package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
)

var _ breach.Store = (*Store)(nil)

// Kinds of breach documents (the kind column).
const (
	kindIncident = "incident"
	kindNotice   = "notice"
)

func (s *Store) putBreach(ctx context.Context, kind, tenantID, id string, v any, etag *string, created, attention time.Time, create bool) error {
	if tenantID == "" || id == "" {
		return fmt.Errorf("put %s: tenant id and id are required", kind)
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %s %s: %w", kind, id, err)
	}
	next := newToken()
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		if create {
			_, err := tx.ExecContext(ctx, `INSERT INTO breach_docs (kind, tenant_id, id, etag, created_at, attention_at, doc)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, kind, tenantID, id, next, nanos(created), nullNanos(attention), string(doc))
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE breach_docs SET etag = ?, attention_at = ?, doc = ?
			WHERE kind = ? AND tenant_id = ? AND id = ? AND etag = ?`, next, nullNanos(attention), string(doc), kind, tenantID, id, *etag)
		if err != nil {
			return err
		}
		return updated(ctx, tx, res, "SELECT 1 FROM breach_docs WHERE kind = ? AND tenant_id = ? AND id = ?", kind, tenantID, id)
	})
	if err != nil {
		op := "update"
		if create {
			op = "create"
		}
		return fmt.Errorf("%s %s %s: %w", op, kind, id, translate(err))
	}
	*etag = next
	return nil
}

func (s *Store) getBreach(ctx context.Context, kind, tenantID, id string, v any, etag *string) error {
	err := scanDoc(s.db.r.QueryRowContext(ctx, "SELECT etag, doc FROM breach_docs WHERE kind = ? AND tenant_id = ? AND id = ?",
		kind, tenantID, id), v, etag)
	if err != nil {
		return fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	return nil
}

type breachCursor struct {
	Listing string `json:"l"`
	Created int64  `json:"c"`
	ID      string `json:"i"`
}

// listBreach returns a page of one partition's documents of kind, newest first.
func listBreach[T any](ctx context.Context, s *Store, kind, tenantID, cursor string, limit int, etagOf func(*T) *string, createdOf func(*T) (time.Time, string)) ([]*T, string, error) {
	listing := kind + "/" + tenantID
	q := "SELECT etag, doc FROM breach_docs WHERE kind = ? AND tenant_id = ?"
	args := []any{kind, tenantID}
	if cursor != "" {
		var c breachCursor
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.Listing != listing || c.ID == "" {
			return nil, "", privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "the page cursor is not valid")
		}
		q += " AND (created_at < ? OR (created_at = ? AND id < ?))"
		args = append(args, c.Created, c.Created, c.ID)
	}
	limit = min(pageSize(limit, defaultPage), 200)
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", translate(err)
	}
	out, err := scanDocs(rows, etagOf)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		created, id := createdOf(out[limit-1])
		b, _ := json.Marshal(breachCursor{Listing: listing, Created: nanos(created), ID: id})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, next, nil
}

func attentionBreach[T any](ctx context.Context, s *Store, kind, tenantID string, before time.Time, limit int, etagOf func(*T) *string) ([]*T, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT etag, doc FROM breach_docs WHERE kind = ? AND tenant_id = ?
		AND attention_at IS NOT NULL AND attention_at <= ? ORDER BY attention_at LIMIT ?`,
		kind, tenantID, nanos(before), pageSize(limit, defaultPage))
	if err != nil {
		return nil, translate(err)
	}
	return scanDocs(rows, etagOf)
}

// CreateIncident implements breach.Store.
func (s *Store) CreateIncident(ctx context.Context, in *breach.Incident) error {
	return s.putBreach(ctx, kindIncident, in.TenantID, in.ID, in, &in.ETag, in.CreatedAt, in.AttentionAt, true)
}

// GetIncident implements breach.Store.
func (s *Store) GetIncident(ctx context.Context, id string) (*breach.Incident, error) {
	in := new(breach.Incident)
	if err := s.getBreach(ctx, kindIncident, privacy.OperatorTenant, id, in, &in.ETag); err != nil {
		return nil, err
	}
	return in, nil
}

// UpdateIncident implements breach.Store.
func (s *Store) UpdateIncident(ctx context.Context, in *breach.Incident) error {
	return s.putBreach(ctx, kindIncident, in.TenantID, in.ID, in, &in.ETag, in.CreatedAt, in.AttentionAt, false)
}

// ListIncidents implements breach.Store.
func (s *Store) ListIncidents(ctx context.Context, cursor string, limit int) (breach.IncidentPage, error) {
	out, next, err := listBreach(ctx, s, kindIncident, privacy.OperatorTenant, cursor, limit,
		func(in *breach.Incident) *string { return &in.ETag }, func(in *breach.Incident) (time.Time, string) { return in.CreatedAt, in.ID })
	if err != nil {
		return breach.IncidentPage{}, fmt.Errorf("list incidents: %w", err)
	}
	return breach.IncidentPage{Incidents: out, Next: next}, nil
}

// IncidentsNeedingAttention implements breach.Store.
func (s *Store) IncidentsNeedingAttention(ctx context.Context, before time.Time, limit int) ([]*breach.Incident, error) {
	return attentionBreach(ctx, s, kindIncident, privacy.OperatorTenant, before, limit, func(in *breach.Incident) *string { return &in.ETag })
}

// CreateNotice implements breach.Store.
func (s *Store) CreateNotice(ctx context.Context, n *breach.Notice) error {
	return s.putBreach(ctx, kindNotice, n.TenantID, n.ID, n, &n.ETag, n.CreatedAt, n.AttentionAt, true)
}

// GetNotice implements breach.Store.
func (s *Store) GetNotice(ctx context.Context, tenantID, id string) (*breach.Notice, error) {
	n := new(breach.Notice)
	if err := s.getBreach(ctx, kindNotice, tenantID, id, n, &n.ETag); err != nil {
		return nil, err
	}
	return n, nil
}

// UpdateNotice implements breach.Store.
func (s *Store) UpdateNotice(ctx context.Context, n *breach.Notice) error {
	return s.putBreach(ctx, kindNotice, n.TenantID, n.ID, n, &n.ETag, n.CreatedAt, n.AttentionAt, false)
}

// ListNotices implements breach.Store.
func (s *Store) ListNotices(ctx context.Context, tenantID, cursor string, limit int) (breach.NoticePage, error) {
	out, next, err := listBreach(ctx, s, kindNotice, tenantID, cursor, limit,
		func(n *breach.Notice) *string { return &n.ETag }, func(n *breach.Notice) (time.Time, string) { return n.CreatedAt, n.ID })
	if err != nil {
		return breach.NoticePage{}, fmt.Errorf("list notices: %w", err)
	}
	return breach.NoticePage{Notices: out, Next: next}, nil
}

// NoticesNeedingAttention implements breach.Store.
func (s *Store) NoticesNeedingAttention(ctx context.Context, tenantID string, before time.Time, limit int) ([]*breach.Notice, error) {
	return attentionBreach(ctx, s, kindNotice, tenantID, before, limit, func(n *breach.Notice) *string { return &n.ETag })
}
