package cosmos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

// Defaults and caps of list sizes, the same as the other adapters'.
const (
	defaultPage = 50
	maxPage     = 1000
	// maxCursor bounds the cursor a caller may hand back (it travels in URLs).
	maxCursor = 8 << 10
	// continuationLimitKB asks Cosmos to keep continuation tokens short.
	continuationLimitKB = 2
	// maxRounds bounds the queries one page may take.
	maxRounds = 20
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

// cursor is the opaque page cursor: the Cosmos continuation token of the
// listing's query, bound to the listing (tenant and filter) and checksummed,
// so that a truncated, altered or foreign cursor is refused before it reaches
// Cosmos. A well-formed cursor whose token Cosmos refuses (expired, or from
// another query plan) is refused too, from Cosmos's 400.
type cursor struct {
	Version int    `json:"v"`
	Listing string `json:"l"` // listingKey of the tenant and filter
	Token   string `json:"t"` // Cosmos continuation token
	Sum     string `json:"s"` // checksum of the above
}

func listingKey(tenantID string, f privacy.RequestFilter) string {
	h := sha256.Sum256([]byte(tenantID + "\x00" + string(f.Status) + "\x00" + string(f.Type)))
	return hex.EncodeToString(h[:8])
}

func (c cursor) sum() string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%s", c.Version, c.Listing, c.Token)))
	return hex.EncodeToString(h[:8])
}

func encodeCursor(listing, token string) string {
	c := cursor{Version: 1, Listing: listing, Token: token}
	c.Sum = c.sum()
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the continuation token of s, or the invalid-cursor
// error if s is not a cursor this listing handed out.
func decodeCursor(s, listing string) (string, error) {
	if len(s) > maxCursor {
		return "", invalidCursor()
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", invalidCursor()
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c cursor
	if err := dec.Decode(&c); err != nil || dec.More() || c.Version != 1 || c.Token == "" ||
		c.Listing != listing || c.Sum != c.sum() {
		return "", invalidCursor()
	}
	return c.Token, nil
}

// ListRequests returns a page of one tenant's requests, newest first (ties by
// id, descending), filtered by f.Status and f.Type when set: a query confined
// to the tenant's partition, ordered by the indexed listKey. f.Limit defaults
// to 50 and is capped at 1000. A cursor that is malformed, made for another
// tenant or filter, or whose continuation token Cosmos refuses returns a
// wrapped *privacy.Error "invalid-cursor" of KindInvalid.
func (s *Store) ListRequests(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error) {
	listing := listingKey(tenantID, f)
	var token *string
	if f.Cursor != "" {
		t, err := decodeCursor(f.Cursor, listing)
		if err != nil {
			return privacy.RequestPage{}, fmt.Errorf("list requests: %w", err)
		}
		token = &t
	}
	sql := strings.Builder{}
	sql.WriteString(`SELECT * FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType`)
	ps := params("@tenantId", tenantID, "@docType", docRequest)
	if f.Status != "" {
		sql.WriteString(` AND c.status = @status`)
		ps = append(ps, params("@status", string(f.Status))...)
	}
	if f.Type != "" {
		sql.WriteString(` AND c["type"] = @type`)
		ps = append(ps, params("@type", string(f.Type))...)
	}
	sql.WriteString(` ORDER BY c.listKey DESC`)

	limit := pageSize(f.Limit, defaultPage)
	page := privacy.RequestPage{Requests: []*privacy.Request{}}
	// Cosmos may return fewer items than asked with a continuation token; ask
	// for the rest until the page is full or the results end.
	for round := 0; len(page.Requests) < limit; round++ {
		if round == maxRounds {
			break // a run of empty pages: hand the caller the cursor to go on
		}
		opts := &azcosmos.QueryOptions{QueryParameters: ps, EnableCrossPartitionQuery: ptr(false),
			PageSizeHint: int32(limit - len(page.Requests)), ContinuationToken: token,
			ResponseContinuationTokenLimitInKB: continuationLimitKB}
		resp, err := s.requests.NewQueryItemsPager(sql.String(), azcosmos.NewPartitionKeyString(tenantID), opts).NextPage(ctx)
		if err != nil {
			if round == 0 && f.Cursor != "" && statusOf(err) == http.StatusBadRequest {
				return privacy.RequestPage{}, fmt.Errorf("list requests: %w", invalidCursor())
			}
			return privacy.RequestPage{}, fmt.Errorf("list requests: %w", translate(err))
		}
		for _, raw := range resp.Items {
			r, err := decodeRequest(raw)
			if err != nil {
				return privacy.RequestPage{}, fmt.Errorf("list requests: decode: %w", err)
			}
			page.Requests = append(page.Requests, r)
		}
		token = resp.ContinuationToken
		if token == nil || *token == "" {
			return page, nil
		}
	}
	page.Next = encodeCursor(listing, *token)
	return page, nil
}

// ListStuck returns up to limit (default 100) of a tenant's requests that have
// an outbox event recorded before olderThan, or that are open with a due date
// before dueBefore: two queries confined to the tenant's partition, each on
// its own indexed field, merged. They come earliest due first, those without an
// open due date last, then by id. Not a hot path: the hourly watch calls it.
func (s *Store) ListStuck(ctx context.Context, tenantID string, olderThan, dueBefore time.Time, limit int) ([]*privacy.Request, error) {
	limit = pageSize(limit, 100)
	pk := azcosmos.NewPartitionKeyString(tenantID)
	byID := map[string]*privacy.Request{}
	collect := func(raw []byte) error {
		d := requestDoc{Request: new(privacy.Request)}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		d.ETag = d.SysETag
		byID[d.ID] = d.Request
		return nil
	}
	const base = `SELECT TOP @limit * FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType`
	for _, q := range []struct{ sql, bound string }{
		{base + ` AND c.outboxSince < @bound`, timeKey(olderThan)},
		{base + ` AND c.openDueAt < @bound ORDER BY c.openDueAt`, timeKey(dueBefore)},
	} {
		ps := params("@limit", limit, "@tenantId", tenantID, "@docType", docRequest, "@bound", q.bound)
		if err := query(ctx, s.requests, pk, false, q.sql, ps, nil, 0, collect); err != nil {
			return nil, fmt.Errorf("list stuck requests: %w", err)
		}
	}
	out := make([]*privacy.Request, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *privacy.Request) int {
		da, db := newRequestDoc(a).OpenDueAt, newRequestDoc(b).OpenDueAt
		switch {
		case da != db && da == "":
			return 1
		case da != db && db == "":
			return -1
		case da != db:
			return strings.Compare(da, db)
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
