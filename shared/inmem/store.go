// Package inmem holds in-memory adapters of the privacy ports: a Store and a
// Queue. They are the fast test doubles every package uses; they behave like the
// real adapters (documents copied in and out, ETags, tenant isolation, leases,
// dedupe, dead letters) and pass the same conformance suites. Nothing persists.
package inmem

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

var _ privacy.Store = (*Store)(nil)

// Defaults and caps of list sizes, the same as the other adapters'.
const (
	defaultPage = 50
	maxPage     = 1000
)

// Store is an in-memory privacy.Store. It is safe for concurrent use. Documents
// are deep-copied on the way in and out, so callers never alias stored state.
type Store struct {
	mu       sync.Mutex
	writes   uint64 // source of ETags
	tenants  map[string]*privacy.Tenant
	requests map[docKey]*privacy.Request
	audit    map[string][]privacy.AuditEvent // per tenant; Seq n at index n-1
	auditIDs map[docKey]int                  // (tenant, event id) → index in audit
	inbound  map[docKey]*privacy.InboundRecord
	breach   map[string]map[docKey]*breachDoc // incidents and notices, by kind
	leases   map[string]lease                 // operator-level leases by name (lease.go)

	// Now is the clock inbound records expire by (default time.Now). Set it
	// before the store is used.
	Now func() time.Time
}

// docKey is the (partition, id) primary key of a document.
type docKey struct{ tenantID, id string }

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		tenants:  map[string]*privacy.Tenant{},
		requests: map[docKey]*privacy.Request{},
		audit:    map[string][]privacy.AuditEvent{},
		auditIDs: map[docKey]int{},
		inbound:  map[docKey]*privacy.InboundRecord{},
		Now:      time.Now,
	}
}

// clone deep-copies v through its JSON form, the same form the persistent
// adapters store, so round trips behave alike (for example ETag, tagged "-",
// is not copied).
func clone[T any](v *T) (*T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// nextETag returns a value never returned before by this store. Callers hold mu.
func (s *Store) nextETag() string {
	s.writes++
	return strconv.FormatUint(s.writes, 10)
}

// GetTenant reads a tenant. It returns a wrapped privacy.ErrNotFound if absent.
func (s *Store) GetTenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get tenant %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[id]
	if !ok {
		return nil, fmt.Errorf("get tenant %s: %w", id, privacy.ErrNotFound)
	}
	return s.tenantOut(t)
}

func (s *Store) tenantOut(t *privacy.Tenant) (*privacy.Tenant, error) {
	out, err := clone(t)
	if err != nil {
		return nil, fmt.Errorf("copy tenant %s: %w", t.ID, err)
	}
	out.ETag = t.ETag
	return out, nil
}

// CreateTenant stores a copy of t and sets t.ETag. It returns a wrapped
// privacy.ErrConflict if the id exists, so a repeated create is harmless.
func (s *Store) CreateTenant(ctx context.Context, t *privacy.Tenant) error {
	return s.putTenant(ctx, t, true)
}

// UpdateTenant replaces the tenant if t.ETag matches the stored one (an empty
// ETag never matches) and sets t.ETag to the new value. It returns a wrapped
// privacy.ErrConflict on a mismatch and privacy.ErrNotFound if absent.
func (s *Store) UpdateTenant(ctx context.Context, t *privacy.Tenant) error {
	return s.putTenant(ctx, t, false)
}

func (s *Store) putTenant(ctx context.Context, t *privacy.Tenant, create bool) error {
	op := opName("tenant", create)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, t.ID, err)
	}
	if t.ID == "" {
		return fmt.Errorf("%s: tenant id is required", op)
	}
	cp, err := clone(t)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, t.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkPut(s.tenants[t.ID], t.ETag, create, func(v *privacy.Tenant) string { return v.ETag }); err != nil {
		return fmt.Errorf("%s %s: %w", op, t.ID, err)
	}
	cp.ETag = s.nextETag()
	s.tenants[t.ID] = cp
	t.ETag = cp.ETag
	return nil
}

// checkPut applies the create/update preconditions to the stored document cur
// (nil if absent).
func checkPut[T any](cur *T, etag string, create bool, etagOf func(*T) string) error {
	switch {
	case create && cur != nil:
		return privacy.ErrConflict
	case !create && cur == nil:
		return privacy.ErrNotFound
	case !create && (etag == "" || etagOf(cur) != etag):
		return privacy.ErrConflict
	}
	return nil
}

func opName(doc string, create bool) string {
	if create {
		return "create " + doc
	}
	return "update " + doc
}

// ListTenants returns a copy of every tenant, ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]*privacy.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*privacy.Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		cp, err := s.tenantOut(t)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b *privacy.Tenant) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// CreateRequest stores a copy of r under (r.TenantID, r.ID) and sets r.ETag. It
// returns a wrapped privacy.ErrConflict if that id exists in the tenant, which
// makes a create with a deterministic id idempotent.
func (s *Store) CreateRequest(ctx context.Context, r *privacy.Request) error {
	return s.putRequest(ctx, r, true)
}

// UpdateRequest replaces the request if r.ETag matches the stored one (an empty
// ETag never matches) and sets r.ETag to the new value. It returns a wrapped
// privacy.ErrConflict on a mismatch and privacy.ErrNotFound if the tenant has no
// such request.
func (s *Store) UpdateRequest(ctx context.Context, r *privacy.Request) error {
	return s.putRequest(ctx, r, false)
}

func (s *Store) putRequest(ctx context.Context, r *privacy.Request, create bool) error {
	op := opName("request", create)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, r.ID, err)
	}
	if r.TenantID == "" || r.ID == "" {
		return fmt.Errorf("%s: tenant id and request id are required", op)
	}
	cp, err := clone(r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, r.ID, err)
	}
	k := docKey{r.TenantID, r.ID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := checkPut(s.requests[k], r.ETag, create, func(v *privacy.Request) string { return v.ETag }); err != nil {
		return fmt.Errorf("%s %s: %w", op, r.ID, err)
	}
	cp.ETag = s.nextETag()
	s.requests[k] = cp
	r.ETag = cp.ETag
	return nil
}

// GetRequest returns a copy of a tenant's request. It returns a wrapped
// privacy.ErrNotFound if absent or stored under another tenant.
func (s *Store) GetRequest(ctx context.Context, tenantID, id string) (*privacy.Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[docKey{tenantID, id}]
	if !ok {
		return nil, fmt.Errorf("get request %s: %w", id, privacy.ErrNotFound)
	}
	return requestOut(r)
}

func requestOut(r *privacy.Request) (*privacy.Request, error) {
	out, err := clone(r)
	if err != nil {
		return nil, fmt.Errorf("copy request %s: %w", r.ID, err)
	}
	out.ETag = r.ETag
	return out, nil
}

// cursor is the position after which a page starts: the last request returned.
type cursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

// newestFirst orders requests by creation time, newest first, then by id
// descending so that ties have a stable order.
func newestFirst(aAt time.Time, aID string, bAt time.Time, bID string) int {
	if c := bAt.Compare(aAt); c != 0 {
		return c
	}
	return cmp.Compare(bID, aID)
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

func encodeCursor(r *privacy.Request) string {
	b, _ := json.Marshal(cursor{CreatedAt: r.CreatedAt, ID: r.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ListRequests returns a page of one tenant's requests, newest first, filtered
// by f.Status and f.Type when set. f.Limit defaults to 50 and is capped at 1000.
// A malformed f.Cursor returns a wrapped *privacy.Error of KindInvalid.
func (s *Store) ListRequests(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error) {
	if err := ctx.Err(); err != nil {
		return privacy.RequestPage{}, fmt.Errorf("list requests: %w", err)
	}
	var after *cursor
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return privacy.RequestPage{}, fmt.Errorf("list requests: %w", err)
		}
		after = &c
	}
	limit := pageSize(f.Limit, defaultPage)
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*privacy.Request
	for k, r := range s.requests {
		if k.tenantID != tenantID || (f.Status != "" && r.Status != f.Status) || (f.Type != "" && r.Type != f.Type) {
			continue
		}
		if after != nil && newestFirst(r.CreatedAt, r.ID, after.CreatedAt, after.ID) <= 0 {
			continue
		}
		match = append(match, r)
	}
	slices.SortFunc(match, func(a, b *privacy.Request) int { return newestFirst(a.CreatedAt, a.ID, b.CreatedAt, b.ID) })
	var page privacy.RequestPage
	if len(match) > limit {
		match = match[:limit]
		page.Next = encodeCursor(match[limit-1])
	}
	for _, r := range match {
		cp, err := requestOut(r)
		if err != nil {
			return privacy.RequestPage{}, fmt.Errorf("list requests: %w", err)
		}
		page.Requests = append(page.Requests, cp)
	}
	return page, nil
}

func pageSize(limit, def int) int {
	switch {
	case limit <= 0:
		return def
	case limit > maxPage:
		return maxPage
	}
	return limit
}

// stuck reports whether r is one ListStuck returns: it has an outbox event
// recorded before olderThan, or it is open with a due date (non-zero) before
// dueBefore. The persistent adapters apply the same rule in their queries.
func stuck(r *privacy.Request, olderThan, dueBefore time.Time) bool {
	if at := r.AttentionAt(); !at.IsZero() && at.Before(olderThan) {
		return true
	}
	due := openDue(r)
	return !due.IsZero() && due.Before(dueBefore)
}

// ListStuck returns copies of up to limit (default 100) of a tenant's requests
// that have an outbox event recorded before olderThan, or that are open (not
// terminal) with a due date before dueBefore; a zero due date is no deadline.
// They come earliest due first, those without an open due date last.
func (s *Store) ListStuck(ctx context.Context, tenantID string, olderThan, dueBefore time.Time, limit int) ([]*privacy.Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list stuck requests: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*privacy.Request
	for k, r := range s.requests {
		if k.tenantID == tenantID && stuck(r, olderThan, dueBefore) {
			match = append(match, r)
		}
	}
	slices.SortFunc(match, func(a, b *privacy.Request) int {
		return cmp.Or(compareDue(openDue(a), openDue(b)), cmp.Compare(a.ID, b.ID))
	})
	match = match[:min(len(match), pageSize(limit, 100))]
	out := make([]*privacy.Request, 0, len(match))
	for _, r := range match {
		cp, err := requestOut(r)
		if err != nil {
			return nil, fmt.Errorf("list stuck requests: %w", err)
		}
		out = append(out, cp)
	}
	return out, nil
}

// openDue is r's due date while it is open, else the zero time.
func openDue(r *privacy.Request) time.Time {
	if r.Status.Terminal() {
		return time.Time{}
	}
	return r.Due.At
}

// compareDue orders due dates ascending with the zero time (no due date) last.
func compareDue(a, b time.Time) int {
	if a.IsZero() || b.IsZero() {
		return cmp.Compare(boolInt(a.IsZero()), boolInt(b.IsZero()))
	}
	return a.Compare(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TenantETag returns the ETag of tenant id, as the SQLite store does. It
// returns a wrapped privacy.ErrNotFound if absent.
func (s *Store) TenantETag(ctx context.Context, id string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("tenant etag %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tenants[id]
	if !ok {
		return "", fmt.Errorf("tenant etag %s: %w", id, privacy.ErrNotFound)
	}
	return t.ETag, nil
}
