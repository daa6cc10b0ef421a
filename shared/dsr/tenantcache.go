package dsr

import (
	"context"
	"sync"

	"github.com/privops/privops/shared/privacy"
)

// Tenant reads checked by their ETag (issue 16, fan-out). Every task message
// and every notice needs its tenant: the services it calls, the legal holds
// that defer an erasure, the texts of a notice. Decoding the tenant document
// for each was 6 % of the CPU of 1,000 erasures × 10 services. With a store
// that can read a tenant's ETag without its document (tenantVersions), the
// tenants read lately are kept decoded, and a read asks the store only for
// the ETag: when it is the kept copy's, a copy of that is returned; otherwise
// the document is read and kept.
//
// Why this cannot miss a change, a legal hold above all: every write of a
// tenant, by any process (the server, a `privops tenant` command, a second
// instance on the same database), stores a new random ETag in the same
// transaction as the document, and the check reads the stored ETag at the
// very point where the document was read before. A hold committed before that
// point changed the ETag, so the document is read again; one committed after
// it is missed exactly as a plain read would miss it. Nothing is invalidated
// in-process, so nothing depends on which process wrote. A store without the
// ETag read (Cosmos DB: a point read costs the same as reading the ETag)
// reads the document every time.

// tenantVersions is a store that reads a tenant's current ETag without its
// document. ErrNotFound if the tenant does not exist.
type tenantVersions interface {
	TenantETag(ctx context.Context, id string) (string, error)
}

// keepTenants bounds the decoded tenants kept; the least recently stored
// goes first.
const keepTenants = 64

// tenantCache holds decoded tenants by id; a kept tenant is never changed,
// only copied out.
type tenantCache struct {
	mu    sync.Mutex
	m     map[string]*privacy.Tenant
	order []string // ids of m, oldest first
}

// getTenant reads tenant id: a copy of the kept one when its ETag is the
// stored one, else the stored document (kept for next time).
func (s *Service) getTenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	tv, ok := s.d.Store.(tenantVersions)
	if !ok {
		return s.d.Store.GetTenant(ctx, id)
	}
	etag, err := tv.TenantETag(ctx, id)
	if err != nil {
		s.tenants.forget(id)
		return nil, err
	}
	if t := s.tenants.get(id, etag); t != nil {
		return t, nil
	}
	t, err := s.d.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	s.tenants.keep(t)
	return t, nil
}

// get returns a copy of the kept tenant id if its ETag is etag, else nil.
func (c *tenantCache) get(id, etag string) *privacy.Tenant {
	c.mu.Lock()
	t := c.m[id]
	c.mu.Unlock()
	if t == nil || t.ETag != etag {
		return nil
	}
	return t.Clone()
}

// keep stores a copy of t, read from the store with its ETag.
func (c *tenantCache) keep(t *privacy.Tenant) {
	cp := t.Clone()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*privacy.Tenant{}
	}
	if _, ok := c.m[t.ID]; !ok {
		c.order = append(c.order, t.ID)
		for len(c.order) > keepTenants {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.m[t.ID] = cp
}

// forget drops the kept tenant id (it no longer exists, or its ETag could
// not be read).
func (c *tenantCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok {
		return
	}
	delete(c.m, id)
	for i, k := range c.order {
		if k == id {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}
