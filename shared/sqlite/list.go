package sqlite

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Defaults and caps of list sizes, the same as the other adapters'.
const (
	defaultPage = 50
	maxPage     = 1000
)

func pageSize(limit, def int) int {
	switch {
	case limit <= 0:
		return def
	case limit > maxPage:
		return maxPage
	}
	return limit
}

// cursor is the position after which a page starts: the last request returned.
type cursor struct {
	CreatedAt int64  `json:"c"` // Unix ns
	ID        string `json:"i"`
}

func encodeCursor(r *privacy.Request) string {
	b, _ := json.Marshal(cursor{CreatedAt: nanos(r.CreatedAt), ID: r.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return cursor{}, privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "the page cursor is not valid")
	}
	return c, nil
}

// ListRequests returns a page of one tenant's requests, newest first (ties by
// id, descending), filtered by f.Status and f.Type when set. f.Limit defaults to
// 50 and is capped at 1000. A malformed f.Cursor returns a wrapped
// *privacy.Error of KindInvalid.
func (s *Store) ListRequests(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error) {
	q := strings.Builder{}
	q.WriteString("SELECT etag, doc FROM requests WHERE tenant_id = ?")
	args := []any{tenantID}
	if f.Status != "" {
		q.WriteString(" AND status = ?")
		args = append(args, string(f.Status))
	}
	if f.Type != "" {
		q.WriteString(" AND type = ?")
		args = append(args, string(f.Type))
	}
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return privacy.RequestPage{}, fmt.Errorf("list requests: %w", err)
		}
		q.WriteString(" AND (created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, c.CreatedAt, c.CreatedAt, c.ID)
	}
	limit := pageSize(f.Limit, defaultPage)
	q.WriteString(" ORDER BY created_at DESC, id DESC LIMIT ?")
	args = append(args, limit+1) // one more tells whether there is a next page
	rows, err := s.db.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return privacy.RequestPage{}, fmt.Errorf("list requests: %w", translate(err))
	}
	reqs, err := scanDocs(rows, func(r *privacy.Request) *string { return &r.ETag })
	if err != nil {
		return privacy.RequestPage{}, fmt.Errorf("list requests: %w", err)
	}
	page := privacy.RequestPage{Requests: reqs}
	if len(reqs) > limit {
		page.Requests = reqs[:limit]
		page.Next = encodeCursor(reqs[limit-1])
	}
	return page, nil
}

// ListStuck returns up to limit (default 100) of a tenant's requests that have
// an outbox event recorded before olderThan, or that are open (not terminal)
// with a due date before dueBefore; a zero due date is no deadline. They come
// earliest due first, those without an open due date last. Each half of the
// condition reads its own partial index.
func (s *Store) ListStuck(ctx context.Context, tenantID string, olderThan, dueBefore time.Time, limit int) ([]*privacy.Request, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT etag, doc FROM (
			SELECT etag, doc, open_due_at, id FROM requests WHERE tenant_id = ?1 AND outbox_at < ?2
			UNION
			SELECT etag, doc, open_due_at, id FROM requests WHERE tenant_id = ?1 AND open_due_at < ?3
		) ORDER BY open_due_at IS NULL, open_due_at, id LIMIT ?4`,
		tenantID, nanos(olderThan), nanos(dueBefore), pageSize(limit, 100))
	if err != nil {
		return nil, fmt.Errorf("list stuck requests: %w", translate(err))
	}
	out, err := scanDocs(rows, func(r *privacy.Request) *string { return &r.ETag })
	if err != nil {
		return nil, fmt.Errorf("list stuck requests: %w", err)
	}
	return out, nil
}
