package cosmos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/privacy"
)

// Breach documents (shared/breach) live in the requests container like the
// inbound log: an incident is docType "incident" in the operator's partition
// (privacy.OperatorTenant), id "incident:" + its id; a tenant's notice is
// docType "breach-notice" in the tenant's partition, id "notice:" + the
// incident id. They reuse the container's indexed listKey (created time,
// then id) for listings and outboxSince (the attention time) for the watch,
// so the indexing policy serves them unchanged and every request query,
// which names docType "request", never meets them.
//
// Round trips: create, point read and If-Match replace are one call each; a
// listing is one single-partition query per page; the watch's query one
// single-partition query per tenant.

var _ breach.Store = (*Store)(nil)

const (
	docIncident        = "incident"
	docNotice          = "breach-notice"
	incidentIDPrefix   = "incident:"
	noticeIDPrefix     = "notice:"
	breachListingLabel = "breach"
)

// breachDoc is an incident or notice as stored: the domain's JSON (V, whose
// own id is kept under its name) plus the adapter's fields.
type breachDoc[T any] struct {
	V           *T     `json:"doc"`
	DocID       string `json:"id"`
	TenantID    string `json:"tenantId"`
	DocType     string `json:"docType"`
	ListKey     string `json:"listKey"`
	OutboxSince string `json:"outboxSince,omitempty"`
	SysETag     string `json:"_etag,omitempty"`
}

func newBreachDoc[T any](v *T, docType, prefix, tenantID, id string, created, attention time.Time) breachDoc[T] {
	d := breachDoc[T]{V: v, DocID: prefix + id, TenantID: tenantID, DocType: docType, ListKey: timeKey(created) + "|" + id}
	if !attention.IsZero() {
		d.OutboxSince = timeKey(attention)
	}
	return d
}

func (s *Store) createBreach(ctx context.Context, tenantID, docID string, doc any, etag *string) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	resp, err := s.requests.CreateItem(ctx, azcosmos.NewPartitionKeyString(tenantID), b, nil)
	if err != nil {
		return translate(err)
	}
	*etag = string(resp.ETag)
	return nil
}

func (s *Store) replaceBreach(ctx context.Context, tenantID, docID string, doc any, etag *string) error {
	if *etag == "" {
		return privacy.ErrConflict
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	e := azcore.ETag(*etag)
	resp, err := s.requests.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(tenantID), docID, b, &azcosmos.ItemOptions{IfMatchEtag: &e})
	if err != nil {
		return translate(err)
	}
	*etag = string(resp.ETag)
	return nil
}

func readBreach[T any](ctx context.Context, s *Store, tenantID, docID, docType string) (*T, string, error) {
	if !validID(docID) {
		return nil, "", privacy.ErrNotFound
	}
	resp, err := s.requests.ReadItem(ctx, azcosmos.NewPartitionKeyString(tenantID), docID, nil)
	if err != nil {
		return nil, "", translate(err)
	}
	d := breachDoc[T]{V: new(T)}
	if err := json.Unmarshal(resp.Value, &d); err != nil {
		return nil, "", fmt.Errorf("decode: %w", err)
	}
	if d.DocType != docType {
		return nil, "", privacy.ErrNotFound
	}
	return d.V, string(resp.ETag), nil
}

func breachListing(docType, tenantID string) string {
	h := sha256.Sum256([]byte(breachListingLabel + "\x00" + docType + "\x00" + tenantID))
	return hex.EncodeToString(h[:8])
}

// listBreach pages through one partition's documents of docType, newest first.
func listBreach[T any](ctx context.Context, s *Store, docType, tenantID, cur string, limit int, setETag func(*T, string)) ([]*T, string, error) {
	listing := breachListing(docType, tenantID)
	var token *string
	if cur != "" {
		t, err := decodeCursor(cur, listing)
		if err != nil {
			return nil, "", err
		}
		token = &t
	}
	limit = min(pageSize(limit, defaultPage), 200)
	sql := `SELECT * FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType ORDER BY c.listKey DESC`
	ps := params("@tenantId", tenantID, "@docType", docType)
	out := []*T{}
	for round := 0; len(out) < limit; round++ {
		if round == maxRounds {
			break
		}
		opts := &azcosmos.QueryOptions{QueryParameters: ps, EnableCrossPartitionQuery: ptr(false),
			PageSizeHint: int32(limit - len(out)), ContinuationToken: token, ResponseContinuationTokenLimitInKB: continuationLimitKB}
		resp, err := s.requests.NewQueryItemsPager(sql, azcosmos.NewPartitionKeyString(tenantID), opts).NextPage(ctx)
		if err != nil {
			if round == 0 && cur != "" && statusOf(err) == http.StatusBadRequest {
				return nil, "", invalidCursor()
			}
			return nil, "", translate(err)
		}
		for _, raw := range resp.Items {
			d := breachDoc[T]{V: new(T)}
			if err := json.Unmarshal(raw, &d); err != nil {
				return nil, "", fmt.Errorf("decode: %w", err)
			}
			setETag(d.V, d.SysETag)
			out = append(out, d.V)
		}
		token = resp.ContinuationToken
		if token == nil || *token == "" {
			return out, "", nil
		}
	}
	return out, encodeCursor(listing, *token), nil
}

func attentionBreach[T any](ctx context.Context, s *Store, docType, tenantID string, before time.Time, limit int, setETag func(*T, string)) ([]*T, error) {
	var out []*T
	sql := `SELECT TOP @limit * FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType AND c.outboxSince <= @bound ORDER BY c.outboxSince`
	ps := params("@limit", pageSize(limit, defaultPage), "@tenantId", tenantID, "@docType", docType, "@bound", timeKey(before))
	err := query(ctx, s.requests, azcosmos.NewPartitionKeyString(tenantID), false, sql, ps, nil, 0, func(raw []byte) error {
		d := breachDoc[T]{V: new(T)}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		setETag(d.V, d.SysETag)
		out = append(out, d.V)
		return nil
	})
	return out, err
}

func wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, id, err)
}

// CreateIncident implements breach.Store.
func (s *Store) CreateIncident(ctx context.Context, in *breach.Incident) error {
	if in.TenantID == "" || !validID(incidentIDPrefix+in.ID) {
		return errors.New("create incident: tenant id and a valid id are required")
	}
	d := newBreachDoc(in, docIncident, incidentIDPrefix, in.TenantID, in.ID, in.CreatedAt, in.AttentionAt)
	return wrap("create incident", in.ID, s.createBreach(ctx, in.TenantID, d.DocID, d, &in.ETag))
}

// GetIncident implements breach.Store.
func (s *Store) GetIncident(ctx context.Context, id string) (*breach.Incident, error) {
	in, etag, err := readBreach[breach.Incident](ctx, s, privacy.OperatorTenant, incidentIDPrefix+id, docIncident)
	if err != nil {
		return nil, wrap("get incident", id, err)
	}
	in.ETag = etag
	return in, nil
}

// UpdateIncident implements breach.Store.
func (s *Store) UpdateIncident(ctx context.Context, in *breach.Incident) error {
	d := newBreachDoc(in, docIncident, incidentIDPrefix, in.TenantID, in.ID, in.CreatedAt, in.AttentionAt)
	return wrap("update incident", in.ID, s.replaceBreach(ctx, in.TenantID, d.DocID, d, &in.ETag))
}

// ListIncidents implements breach.Store.
func (s *Store) ListIncidents(ctx context.Context, cursor string, limit int) (breach.IncidentPage, error) {
	out, next, err := listBreach(ctx, s, docIncident, privacy.OperatorTenant, cursor, limit, func(in *breach.Incident, e string) { in.ETag = e })
	if err != nil {
		return breach.IncidentPage{}, fmt.Errorf("list incidents: %w", err)
	}
	return breach.IncidentPage{Incidents: out, Next: next}, nil
}

// IncidentsNeedingAttention implements breach.Store.
func (s *Store) IncidentsNeedingAttention(ctx context.Context, before time.Time, limit int) ([]*breach.Incident, error) {
	out, err := attentionBreach(ctx, s, docIncident, privacy.OperatorTenant, before, limit, func(in *breach.Incident, e string) { in.ETag = e })
	return out, wrap("incidents needing attention", "", err)
}

// CreateNotice implements breach.Store.
func (s *Store) CreateNotice(ctx context.Context, n *breach.Notice) error {
	if n.TenantID == "" || !validID(noticeIDPrefix+n.ID) {
		return errors.New("create notice: tenant id and a valid id are required")
	}
	d := newBreachDoc(n, docNotice, noticeIDPrefix, n.TenantID, n.ID, n.CreatedAt, n.AttentionAt)
	return wrap("create notice", n.ID, s.createBreach(ctx, n.TenantID, d.DocID, d, &n.ETag))
}

// GetNotice implements breach.Store.
func (s *Store) GetNotice(ctx context.Context, tenantID, id string) (*breach.Notice, error) {
	n, etag, err := readBreach[breach.Notice](ctx, s, tenantID, noticeIDPrefix+id, docNotice)
	if err != nil {
		return nil, wrap("get notice", id, err)
	}
	n.ETag = etag
	return n, nil
}

// UpdateNotice implements breach.Store.
func (s *Store) UpdateNotice(ctx context.Context, n *breach.Notice) error {
	d := newBreachDoc(n, docNotice, noticeIDPrefix, n.TenantID, n.ID, n.CreatedAt, n.AttentionAt)
	return wrap("update notice", n.ID, s.replaceBreach(ctx, n.TenantID, d.DocID, d, &n.ETag))
}

// ListNotices implements breach.Store.
func (s *Store) ListNotices(ctx context.Context, tenantID, cursor string, limit int) (breach.NoticePage, error) {
	out, next, err := listBreach(ctx, s, docNotice, tenantID, cursor, limit, func(n *breach.Notice, e string) { n.ETag = e })
	if err != nil {
		return breach.NoticePage{}, fmt.Errorf("list notices: %w", err)
	}
	return breach.NoticePage{Notices: out, Next: next}, nil
}

// NoticesNeedingAttention implements breach.Store.
func (s *Store) NoticesNeedingAttention(ctx context.Context, tenantID string, before time.Time, limit int) ([]*breach.Notice, error) {
	out, err := attentionBreach(ctx, s, docNotice, tenantID, before, limit, func(n *breach.Notice, e string) { n.ETag = e })
	return out, wrap("notices needing attention", tenantID, err)
}
