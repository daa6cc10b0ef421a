package inmem

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
)

var _ breach.Store = (*Store)(nil)

// breachDoc is a stored incident or notice: its JSON and the fields the
// queries read.
type breachDoc struct {
	etag      string
	created   time.Time
	attention time.Time
	doc       []byte
}

// breachDocs returns the map of kind ("incident" or "notice"). Callers hold mu.
func (s *Store) breachDocs(kind string) map[docKey]*breachDoc {
	if s.breach == nil {
		s.breach = map[string]map[docKey]*breachDoc{"incident": {}, "notice": {}}
	}
	return s.breach[kind]
}

func (s *Store) putBreach(kind string, k docKey, v any, etag *string, created, attention time.Time, create bool) error {
	if k.tenantID == "" || k.id == "" {
		return fmt.Errorf("put %s: tenant id and id are required", kind)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %s %s: %w", kind, k.id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.breachDocs(kind)
	old, exists := m[k]
	switch {
	case create && exists:
		return fmt.Errorf("create %s %s: %w", kind, k.id, privacy.ErrConflict)
	case !create && !exists:
		return fmt.Errorf("update %s %s: %w", kind, k.id, privacy.ErrNotFound)
	case !create && old.etag != *etag:
		return fmt.Errorf("update %s %s: %w", kind, k.id, privacy.ErrConflict)
	}
	if !create {
		created = old.created // the listing order never changes
	}
	d := &breachDoc{etag: s.nextETag(), created: created, attention: attention, doc: b}
	m[k] = d
	*etag = d.etag
	return nil
}

func (s *Store) getBreach(kind string, k docKey, v any) (string, error) {
	s.mu.Lock()
	d, ok := s.breachDocs(kind)[k]
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("get %s %s: %w", kind, k.id, privacy.ErrNotFound)
	}
	return d.etag, json.Unmarshal(d.doc, v)
}

type breachCursor struct {
	Listing string `json:"l"`
	Created int64  `json:"c"`
	ID      string `json:"i"`
}

// listBreach returns the docs of one partition, newest first, a page at a time.
func (s *Store) listBreach(kind, tenantID, cursor string, limit int) ([]*breachDoc, []string, string, error) {
	listing := kind + "/" + tenantID
	var after *breachCursor
	if cursor != "" {
		var c breachCursor
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.Listing != listing || c.ID == "" {
			return nil, nil, "", privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "the page cursor is not valid")
		}
		after = &c
	}
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, 200)
	s.mu.Lock()
	type row struct {
		id string
		d  *breachDoc
	}
	var rows []row
	for k, d := range s.breachDocs(kind) {
		if k.tenantID != tenantID {
			continue
		}
		if after != nil {
			c := d.created.UnixNano()
			if c > after.Created || c == after.Created && k.id >= after.ID {
				continue
			}
		}
		rows = append(rows, row{k.id, d})
	}
	s.mu.Unlock()
	slices.SortFunc(rows, func(a, b row) int {
		if c := b.d.created.Compare(a.d.created); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		b, _ := json.Marshal(breachCursor{Listing: listing, Created: last.d.created.UnixNano(), ID: last.id})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	docs := make([]*breachDoc, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		docs[i], ids[i] = r.d, r.id
	}
	return docs, ids, next, nil
}

func (s *Store) attentionBreach(kind, tenantID string, before time.Time, limit int) []*breachDoc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*breachDoc
	for k, d := range s.breachDocs(kind) {
		if k.tenantID == tenantID && !d.attention.IsZero() && !d.attention.After(before) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *breachDoc) int { return a.attention.Compare(b.attention) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func decodeAll[T any](docs []*breachDoc, etag func(*T) *string) ([]*T, error) {
	out := make([]*T, 0, len(docs))
	for _, d := range docs {
		v := new(T)
		if err := json.Unmarshal(d.doc, v); err != nil {
			return nil, err
		}
		*etag(v) = d.etag
		out = append(out, v)
	}
	return out, nil
}

// CreateIncident implements breach.Store.
func (s *Store) CreateIncident(ctx context.Context, in *breach.Incident) error {
	return s.putBreach("incident", docKey{in.TenantID, in.ID}, in, &in.ETag, in.CreatedAt, in.AttentionAt, true)
}

// GetIncident implements breach.Store.
func (s *Store) GetIncident(ctx context.Context, id string) (*breach.Incident, error) {
	in := new(breach.Incident)
	etag, err := s.getBreach("incident", docKey{privacy.OperatorTenant, id}, in)
	if err != nil {
		return nil, err
	}
	in.ETag = etag
	return in, nil
}

// UpdateIncident implements breach.Store.
func (s *Store) UpdateIncident(ctx context.Context, in *breach.Incident) error {
	return s.putBreach("incident", docKey{in.TenantID, in.ID}, in, &in.ETag, in.CreatedAt, in.AttentionAt, false)
}

// ListIncidents implements breach.Store.
func (s *Store) ListIncidents(ctx context.Context, cursor string, limit int) (breach.IncidentPage, error) {
	docs, _, next, err := s.listBreach("incident", privacy.OperatorTenant, cursor, limit)
	if err != nil {
		return breach.IncidentPage{}, fmt.Errorf("list incidents: %w", err)
	}
	out, err := decodeAll(docs, func(in *breach.Incident) *string { return &in.ETag })
	return breach.IncidentPage{Incidents: out, Next: next}, err
}

// IncidentsNeedingAttention implements breach.Store.
func (s *Store) IncidentsNeedingAttention(ctx context.Context, before time.Time, limit int) ([]*breach.Incident, error) {
	return decodeAll(s.attentionBreach("incident", privacy.OperatorTenant, before, limit), func(in *breach.Incident) *string { return &in.ETag })
}

// CreateNotice implements breach.Store.
func (s *Store) CreateNotice(ctx context.Context, n *breach.Notice) error {
	return s.putBreach("notice", docKey{n.TenantID, n.ID}, n, &n.ETag, n.CreatedAt, n.AttentionAt, true)
}

// GetNotice implements breach.Store.
func (s *Store) GetNotice(ctx context.Context, tenantID, id string) (*breach.Notice, error) {
	n := new(breach.Notice)
	etag, err := s.getBreach("notice", docKey{tenantID, id}, n)
	if err != nil {
		return nil, err
	}
	n.ETag = etag
	return n, nil
}

// UpdateNotice implements breach.Store.
func (s *Store) UpdateNotice(ctx context.Context, n *breach.Notice) error {
	return s.putBreach("notice", docKey{n.TenantID, n.ID}, n, &n.ETag, n.CreatedAt, n.AttentionAt, false)
}

// ListNotices implements breach.Store.
func (s *Store) ListNotices(ctx context.Context, tenantID, cursor string, limit int) (breach.NoticePage, error) {
	docs, _, next, err := s.listBreach("notice", tenantID, cursor, limit)
	if err != nil {
		return breach.NoticePage{}, fmt.Errorf("list notices: %w", err)
	}
	out, err := decodeAll(docs, func(n *breach.Notice) *string { return &n.ETag })
	return breach.NoticePage{Notices: out, Next: next}, err
}

// NoticesNeedingAttention implements breach.Store.
func (s *Store) NoticesNeedingAttention(ctx context.Context, tenantID string, before time.Time, limit int) ([]*breach.Notice, error) {
	return decodeAll(s.attentionBreach("notice", tenantID, before, limit), func(n *breach.Notice) *string { return &n.ETag })
}
