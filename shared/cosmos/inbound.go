package cosmos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

// The inbound log: privacy.InboundLog in the requests container, one
// document of docType "inbound" per record in its tenant's partition (see
// layout.go).
//
// Expiry: a record with an ExpiresAt carries a ttl (seconds from the write,
// at least 1), so Cosmos deletes it then; until the deletion has run, reads
// and listings skip it by the store's clock. Deviation: @vercel/cosmosdb-server
// does not implement TTL at all (nothing is ever deleted there), so on the
// emulator the clock check is all there is, and a create over an expired
// record meets its document and replaces it (see CreateInbound).
//
// Round trips per call, each retried as the store's retry policy says:
//   - CreateInbound: one create; on a conflict, one point read, and one
//     replace when the record there has expired.
//   - GetInbound: one point read.
//   - UpdateInbound: one replace guarded by If-Match.
//   - ListInbound: one single-partition query per result page, ordered by the
//     indexed listKey; more when expired records had to be skipped.

var _ privacy.InboundLog = (*Store)(nil)

// inboundDoc is an inbound record as stored: the domain's JSON plus the
// fields the queries filter and sort on. Its id shadows the record's.
type inboundDoc struct {
	*privacy.InboundRecord
	// DocID is inboundIDPrefix + the record id.
	DocID   string `json:"id"`
	DocType string `json:"docType"`
	// ListKey orders the listing newest first: received time, then id.
	ListKey string `json:"listKey"`
	// TTL is the seconds from this write to ExpiresAt (absent: never).
	TTL     int32  `json:"ttl,omitempty"`
	SysETag string `json:"_etag,omitempty"`
}

func newInboundDoc(r *privacy.InboundRecord, now time.Time) inboundDoc {
	return inboundDoc{InboundRecord: r, DocID: inboundIDPrefix + r.ID, DocType: docInbound,
		ListKey: timeKey(r.ReceivedAt) + "|" + r.ID, TTL: ttlUntil(r.ExpiresAt, now)}
}

// ttlUntil is the ttl of a document that expires at t: whole seconds from now,
// rounded up, at least 1 (Cosmos refuses 0, and -1 would keep it for ever);
// 0, no ttl, for the zero time.
func ttlUntil(t, now time.Time) int32 {
	if t.IsZero() {
		return 0
	}
	secs := math.Ceil(t.Sub(now).Seconds())
	switch {
	case secs < 1:
		return 1
	case secs > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(secs)
}

// inboundExpired reports whether r has an expiry time that has come.
func inboundExpired(r *privacy.InboundRecord, now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now)
}

// inboundDocID returns the document id of record id, or false if no record
// with that id can have been stored.
func inboundDocID(id string) (string, bool) {
	docID := inboundIDPrefix + id
	return docID, id != "" && validID(docID)
}

// decodeInbound decodes an inbound document, restoring the record's id and
// taking the ETag from the document's _etag. It returns false for a document
// of another type.
func decodeInbound(raw []byte) (*privacy.InboundRecord, bool, error) {
	r := new(privacy.InboundRecord)
	d := inboundDoc{InboundRecord: r}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, false, err
	}
	r.ID, r.ETag = strings.TrimPrefix(d.DocID, inboundIDPrefix), d.SysETag
	return r, d.DocType == docInbound && strings.HasPrefix(d.DocID, inboundIDPrefix), nil
}

// errVanished says that CreateInbound's conflicting document vanished
// between the create and the read or replace: the create is tried again.
var errVanished = errors.New("the conflicting document vanished")

// CreateInbound stores r in its tenant's partition and sets r.ETag. It
// returns a wrapped privacy.ErrConflict if the tenant has an unexpired record
// with that id (the deduplication check). A record that has expired but is
// still stored (Cosmos has not yet run its deletion, or the emulator, which
// never does) is replaced, guarded by its ETag, so an expired id can be
// recorded again on every backend alike.
func (s *Store) CreateInbound(ctx context.Context, r *privacy.InboundRecord) error {
	docID, ok := inboundDocID(r.ID)
	if r.TenantID == "" || !ok {
		return errors.New("create inbound record: tenant id and a valid record id are required")
	}
	pk := azcosmos.NewPartitionKeyString(r.TenantID)
	for attempt := 1; ; attempt++ {
		now := s.now()
		doc, err := json.Marshal(newInboundDoc(r, now))
		if err != nil {
			return fmt.Errorf("create inbound record %s: %w", r.ID, err)
		}
		resp, err := s.requests.CreateItem(ctx, pk, doc, nil)
		if err == nil {
			r.ETag = string(resp.ETag)
			return nil
		}
		if statusOf(err) != http.StatusConflict || attempt == 3 {
			return fmt.Errorf("create inbound record %s: %w", r.ID, translate(err))
		}
		etag, rerr := s.replaceExpired(ctx, pk, docID, doc, now)
		switch {
		case rerr == nil:
			r.ETag = etag
			return nil
		case errors.Is(rerr, errVanished):
			continue
		case errors.Is(rerr, privacy.ErrConflict):
			return fmt.Errorf("create inbound record %s: %w", r.ID, translate(err))
		default:
			return fmt.Errorf("create inbound record %s: %w", r.ID, rerr)
		}
	}
}

// replaceExpired replaces the document docID with doc if it is an inbound
// record that has expired by now, and returns the new ETag. It returns
// privacy.ErrConflict if the document is live (or not an inbound record, or
// changed meanwhile), and errVanished if it is gone.
func (s *Store) replaceExpired(ctx context.Context, pk azcosmos.PartitionKey, docID string, doc []byte, now time.Time) (string, error) {
	cur, err := s.requests.ReadItem(ctx, pk, docID, nil)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return "", errVanished
	case err != nil:
		return "", translate(err)
	}
	old, isInbound, err := decodeInbound(cur.Value)
	if err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	if !isInbound || !inboundExpired(old, now) {
		return "", privacy.ErrConflict
	}
	resp, err := s.requests.ReplaceItem(ctx, pk, docID, doc, &azcosmos.ItemOptions{IfMatchEtag: &cur.ETag})
	switch {
	case statusOf(err) == http.StatusNotFound:
		return "", errVanished
	case err != nil:
		return "", translate(err)
	}
	return string(resp.ETag), nil
}

// GetInbound reads a tenant's record with one point read in the tenant's
// partition. It returns a wrapped privacy.ErrNotFound if absent (another
// tenant's record lives in another partition) or expired.
func (s *Store) GetInbound(ctx context.Context, tenantID, id string) (*privacy.InboundRecord, error) {
	docID, ok := inboundDocID(id)
	if !ok {
		return nil, fmt.Errorf("get inbound record: %w", privacy.ErrNotFound)
	}
	resp, err := s.requests.ReadItem(ctx, azcosmos.NewPartitionKeyString(tenantID), docID, nil)
	if err != nil {
		return nil, fmt.Errorf("get inbound record %s: %w", id, translate(err))
	}
	r, isInbound, err := decodeInbound(resp.Value)
	if err != nil {
		return nil, fmt.Errorf("get inbound record %s: decode: %w", id, err)
	}
	if !isInbound || inboundExpired(r, s.now()) {
		return nil, fmt.Errorf("get inbound record %s: %w", id, privacy.ErrNotFound)
	}
	r.ETag = string(resp.ETag)
	return r, nil
}

// UpdateInbound replaces the record if r.ETag still matches: one write
// guarded by If-Match. It sets r.ETag to the new value and the document's ttl
// anew from r.ExpiresAt. An empty ETag never matches: it is a wrapped
// privacy.ErrConflict without a call. A moved ETag is privacy.ErrConflict; a
// record the tenant does not have (or that Cosmos has deleted on expiry) is
// privacy.ErrNotFound. A record that expired after it was read but is not yet
// deleted is replaced all the same, and stays unreadable.
func (s *Store) UpdateInbound(ctx context.Context, r *privacy.InboundRecord) error {
	if r.ETag == "" {
		return fmt.Errorf("update inbound record %s: no ETag: %w", r.ID, privacy.ErrConflict)
	}
	docID, ok := inboundDocID(r.ID)
	if !ok {
		return fmt.Errorf("update inbound record: %w", privacy.ErrNotFound)
	}
	doc, err := json.Marshal(newInboundDoc(r, s.now()))
	if err != nil {
		return fmt.Errorf("update inbound record %s: %w", r.ID, err)
	}
	etag := azcore.ETag(r.ETag)
	resp, err := s.requests.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(r.TenantID), docID, doc,
		&azcosmos.ItemOptions{IfMatchEtag: &etag})
	if err != nil {
		return fmt.Errorf("update inbound record %s: %w", r.ID, translate(err))
	}
	r.ETag = string(resp.ETag)
	return nil
}

// inboundListingKey identifies an inbound listing (tenant and status
// filter) in its cursor; the "inbound" prefix keeps it apart from every
// request listing's key.
func inboundListingKey(tenantID string, status privacy.InboundStatus) string {
	h := sha256.Sum256([]byte("inbound\x00" + tenantID + "\x00" + string(status)))
	return hex.EncodeToString(h[:8])
}

// ListInbound returns a page of one tenant's unexpired records, newest
// ReceivedAt first (ties by id, descending), filtered by f.Status when set: a
// query confined to the tenant's partition, ordered by the indexed listKey,
// with expired records skipped as they come. f.Limit defaults to 50 and is
// capped at 1000. A cursor that is malformed, made for another tenant or
// filter, or whose continuation token Cosmos refuses returns a wrapped
// *privacy.Error "invalid-cursor" of KindInvalid.
func (s *Store) ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error) {
	listing := inboundListingKey(tenantID, f.Status)
	var token *string
	if f.Cursor != "" {
		t, err := decodeCursor(f.Cursor, listing)
		if err != nil {
			return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", err)
		}
		token = &t
	}
	sql := `SELECT * FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType`
	ps := params("@tenantId", tenantID, "@docType", docInbound)
	if f.Status != "" {
		sql += ` AND c.status = @status`
		ps = append(ps, params("@status", string(f.Status))...)
	}
	sql += ` ORDER BY c.listKey DESC`

	limit := pageSize(f.Limit, defaultPage)
	now := s.now()
	page := privacy.InboundPage{Records: []*privacy.InboundRecord{}}
	// Cosmos may return fewer items than asked with a continuation token, and
	// expired records are dropped here: ask for the rest until the page is
	// full or the results end.
	for round := 0; len(page.Records) < limit; round++ {
		if round == maxRounds {
			break // a run of empty or expired pages: hand the caller the cursor to go on
		}
		opts := &azcosmos.QueryOptions{QueryParameters: ps, EnableCrossPartitionQuery: ptr(false),
			PageSizeHint: int32(limit - len(page.Records)), ContinuationToken: token,
			ResponseContinuationTokenLimitInKB: continuationLimitKB}
		resp, err := s.requests.NewQueryItemsPager(sql, azcosmos.NewPartitionKeyString(tenantID), opts).NextPage(ctx)
		if err != nil {
			if round == 0 && f.Cursor != "" && statusOf(err) == http.StatusBadRequest {
				return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", invalidCursor())
			}
			return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", translate(err))
		}
		for _, raw := range resp.Items {
			r, isInbound, err := decodeInbound(raw)
			if err != nil {
				return privacy.InboundPage{}, fmt.Errorf("list inbound records: decode: %w", err)
			}
			if isInbound && !inboundExpired(r, now) {
				page.Records = append(page.Records, r)
			}
		}
		token = resp.ContinuationToken
		if token == nil || *token == "" {
			return page, nil
		}
	}
	page.Next = encodeCursor(listing, *token)
	return page, nil
}
