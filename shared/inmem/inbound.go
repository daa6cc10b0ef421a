package inmem

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

var _ privacy.InboundLog = (*Store)(nil)

// expired reports whether r has an expiry time that has come.
func expired(r *privacy.InboundRecord, now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now)
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// CreateInbound stores a copy of r under (r.TenantID, r.ID) and sets r.ETag.
// It returns a wrapped privacy.ErrConflict if the tenant has a record with
// that id that has not expired; an expired one is replaced.
func (s *Store) CreateInbound(ctx context.Context, r *privacy.InboundRecord) error {
	return s.putInbound(ctx, r, true)
}

// UpdateInbound replaces the record if r.ETag matches the stored one (an
// empty ETag never matches) and sets r.ETag to the new value. It returns a
// wrapped privacy.ErrConflict on a mismatch and privacy.ErrNotFound if the
// tenant has no such record or it has expired.
func (s *Store) UpdateInbound(ctx context.Context, r *privacy.InboundRecord) error {
	return s.putInbound(ctx, r, false)
}

func (s *Store) putInbound(ctx context.Context, r *privacy.InboundRecord, create bool) error {
	op := opName("inbound record", create)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, r.ID, err)
	}
	if r.TenantID == "" || r.ID == "" {
		return fmt.Errorf("%s: tenant id and record id are required", op)
	}
	cp, err := clone(r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, r.ID, err)
	}
	k := docKey{r.TenantID, r.ID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inbound == nil {
		s.inbound = map[docKey]*privacy.InboundRecord{}
	}
	cur := s.inbound[k]
	if cur != nil && expired(cur, s.now()) {
		delete(s.inbound, k) // gone, as the persistent adapters' purges make it
		cur = nil
	}
	if err := checkPut(cur, r.ETag, create, func(v *privacy.InboundRecord) string { return v.ETag }); err != nil {
		return fmt.Errorf("%s %s: %w", op, r.ID, err)
	}
	cp.ETag = s.nextETag()
	s.inbound[k] = cp
	r.ETag = cp.ETag
	return nil
}

// GetInbound returns a copy of a tenant's record. It returns a wrapped
// privacy.ErrNotFound if absent, stored under another tenant, or expired.
func (s *Store) GetInbound(ctx context.Context, tenantID, id string) (*privacy.InboundRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get inbound record %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.inbound[docKey{tenantID, id}]
	if !ok || expired(r, s.now()) {
		return nil, fmt.Errorf("get inbound record %s: %w", id, privacy.ErrNotFound)
	}
	return inboundOut(r)
}

func inboundOut(r *privacy.InboundRecord) (*privacy.InboundRecord, error) {
	out, err := clone(r)
	if err != nil {
		return nil, fmt.Errorf("copy inbound record %s: %w", r.ID, err)
	}
	out.ETag = r.ETag
	return out, nil
}

// inboundCursor is the position after which a page of inbound records starts
// (the last record returned), bound to the listing it was made for.
type inboundCursor struct {
	Listing    string    `json:"l"`
	ReceivedAt time.Time `json:"r"`
	ID         string    `json:"i"`
}

// inboundListing identifies a listing: its tenant and status filter.
func inboundListing(tenantID string, status privacy.InboundStatus) string {
	h := sha256.Sum256([]byte("inbound\x00" + tenantID + "\x00" + string(status)))
	return hex.EncodeToString(h[:8])
}

// ListInbound returns a page of a tenant's unexpired records, newest
// ReceivedAt first (ties by id, descending), filtered by f.Status when set.
// f.Limit defaults to 50 and is capped at 1000. A cursor that is malformed or
// was made for another tenant or filter returns a wrapped *privacy.Error
// "invalid-cursor" of KindInvalid.
func (s *Store) ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error) {
	if err := ctx.Err(); err != nil {
		return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", err)
	}
	listing := inboundListing(tenantID, f.Status)
	var after *inboundCursor
	if f.Cursor != "" {
		var c inboundCursor
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.ID == "" || c.Listing != listing {
			return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w",
				privacy.Errorf(privacy.KindInvalid, "invalid-cursor", "the page cursor is not valid"))
		}
		after = &c
	}
	limit := pageSize(f.Limit, defaultPage)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var match []*privacy.InboundRecord
	for k, r := range s.inbound {
		if k.tenantID != tenantID || (f.Status != "" && r.Status != f.Status) || expired(r, now) {
			continue
		}
		if after != nil && newestFirst(r.ReceivedAt, r.ID, after.ReceivedAt, after.ID) <= 0 {
			continue
		}
		match = append(match, r)
	}
	slices.SortFunc(match, func(a, b *privacy.InboundRecord) int {
		return newestFirst(a.ReceivedAt, a.ID, b.ReceivedAt, b.ID)
	})
	var page privacy.InboundPage
	if len(match) > limit {
		match = match[:limit]
		last := match[limit-1]
		b, _ := json.Marshal(inboundCursor{Listing: listing, ReceivedAt: last.ReceivedAt, ID: last.ID})
		page.Next = base64.RawURLEncoding.EncodeToString(b)
	}
	for _, r := range match {
		cp, err := inboundOut(r)
		if err != nil {
			return privacy.InboundPage{}, fmt.Errorf("list inbound records: %w", err)
		}
		page.Records = append(page.Records, cp)
	}
	return page, nil
}
