package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

// GetTenant reads a tenant with one point read. It returns a wrapped
// privacy.ErrNotFound if absent.
func (s *Store) GetTenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	if !validID(id) {
		return nil, fmt.Errorf("get tenant: %w", privacy.ErrNotFound)
	}
	resp, err := s.tenants.ReadItem(ctx, azcosmos.NewPartitionKeyString(id), id, nil)
	if err != nil {
		return nil, fmt.Errorf("get tenant %s: %w", id, translate(err))
	}
	t := new(privacy.Tenant)
	if err := json.Unmarshal(resp.Value, &tenantDoc{Tenant: t}); err != nil {
		return nil, fmt.Errorf("get tenant %s: decode: %w", id, err)
	}
	t.ETag = string(resp.ETag)
	return t, nil
}

// CreateTenant stores t and sets t.ETag. It returns a wrapped
// privacy.ErrConflict if the id exists, so a repeated create is harmless.
func (s *Store) CreateTenant(ctx context.Context, t *privacy.Tenant) error {
	if !validID(t.ID) {
		return errors.New("create tenant: tenant id is not a valid document id")
	}
	doc, err := json.Marshal(tenantDoc{Tenant: t, TenantID: t.ID, DocType: docTenant})
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	resp, err := s.tenants.CreateItem(ctx, azcosmos.NewPartitionKeyString(t.ID), doc, nil)
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, translate(err))
	}
	t.ETag = string(resp.ETag)
	return nil
}

// UpdateTenant replaces the tenant if t.ETag still matches (one write guarded
// by If-Match) and sets t.ETag to the new value. An empty ETag never matches:
// it is a wrapped privacy.ErrConflict without a call. A moved ETag is
// privacy.ErrConflict, an absent tenant privacy.ErrNotFound.
func (s *Store) UpdateTenant(ctx context.Context, t *privacy.Tenant) error {
	if t.ETag == "" {
		return fmt.Errorf("update tenant %s: no ETag: %w", t.ID, privacy.ErrConflict)
	}
	if !validID(t.ID) {
		return fmt.Errorf("update tenant: %w", privacy.ErrNotFound)
	}
	doc, err := json.Marshal(tenantDoc{Tenant: t, TenantID: t.ID, DocType: docTenant})
	if err != nil {
		return fmt.Errorf("update tenant %s: %w", t.ID, err)
	}
	etag := azcore.ETag(t.ETag)
	resp, err := s.tenants.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(t.ID), t.ID, doc,
		&azcosmos.ItemOptions{IfMatchEtag: &etag})
	if err != nil {
		return fmt.Errorf("update tenant %s: %w", t.ID, translate(err))
	}
	t.ETag = string(resp.ETag)
	return nil
}

// ListTenants returns every tenant, ordered by id. It is one of the two
// cross-partition queries of the store (each tenant is its own partition; the
// other is the breach fan-out's Expired); only the timers call it, once per run.
func (s *Store) ListTenants(ctx context.Context) ([]*privacy.Tenant, error) {
	var out []*privacy.Tenant
	err := query(ctx, s.tenants, azcosmos.NewPartitionKey(), true,
		`SELECT * FROM c WHERE c.docType = @docType`, params("@docType", docTenant), nil, 0,
		func(raw []byte) error {
			t := new(privacy.Tenant)
			d := tenantDoc{Tenant: t}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			t.ETag = d.SysETag
			out = append(out, t)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	slices.SortFunc(out, func(a, b *privacy.Tenant) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// CreateRequest stores r in its tenant's partition with one create and sets
// r.ETag. It returns a wrapped privacy.ErrConflict if the tenant has a request
// with that id, which makes a create with a deterministic id idempotent.
func (s *Store) CreateRequest(ctx context.Context, r *privacy.Request) error {
	if r.TenantID == "" || !validID(r.ID) {
		return errors.New("create request: tenant id and a valid request id are required")
	}
	doc, err := json.Marshal(newRequestDoc(r))
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	resp, err := s.requests.CreateItem(ctx, azcosmos.NewPartitionKeyString(r.TenantID), doc, nil)
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, translate(err))
	}
	r.ETag = string(resp.ETag)
	return nil
}

// GetRequest reads a tenant's request with one point read in the tenant's
// partition. It returns a wrapped privacy.ErrNotFound if absent, which is also
// what another tenant's request is: it lives in another partition.
func (s *Store) GetRequest(ctx context.Context, tenantID, id string) (*privacy.Request, error) {
	if !validID(id) {
		return nil, fmt.Errorf("get request: %w", privacy.ErrNotFound)
	}
	resp, err := s.requests.ReadItem(ctx, azcosmos.NewPartitionKeyString(tenantID), id, nil)
	if err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, translate(err))
	}
	r := new(privacy.Request)
	d := requestDoc{Request: r}
	if err := json.Unmarshal(resp.Value, &d); err != nil {
		return nil, fmt.Errorf("get request %s: decode: %w", id, err)
	}
	if d.DocType != docRequest {
		// Another document of the container (an inbound record, "inbound:..."):
		// not a request, whatever id the caller guessed.
		return nil, fmt.Errorf("get request %s: %w", id, privacy.ErrNotFound)
	}
	r.ETag = string(resp.ETag)
	return r, nil
}

// UpdateRequest replaces the request if r.ETag still matches: one write
// guarded by If-Match, whatever the outcome. It sets r.ETag to the new value.
// An empty ETag never matches: it is a wrapped privacy.ErrConflict without a
// call. A moved ETag is privacy.ErrConflict; a request the tenant does not have
// is privacy.ErrNotFound.
func (s *Store) UpdateRequest(ctx context.Context, r *privacy.Request) error {
	if r.ETag == "" {
		return fmt.Errorf("update request %s: no ETag: %w", r.ID, privacy.ErrConflict)
	}
	if !validID(r.ID) {
		return fmt.Errorf("update request: %w", privacy.ErrNotFound)
	}
	doc, err := json.Marshal(newRequestDoc(r))
	if err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, err)
	}
	etag := azcore.ETag(r.ETag)
	resp, err := s.requests.ReplaceItem(ctx, azcosmos.NewPartitionKeyString(r.TenantID), r.ID, doc,
		&azcosmos.ItemOptions{IfMatchEtag: &etag})
	if err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, translate(err))
	}
	r.ETag = string(resp.ETag)
	return nil
}

// decodeRequest decodes a request document from a query result, with its ETag.
func decodeRequest(raw []byte) (*privacy.Request, error) {
	r := new(privacy.Request)
	d := requestDoc{Request: r}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	r.ETag = d.SysETag
	return r, nil
}
