package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

// The offboarding purge (shared/offboard): a tenant's documents counted and
// deleted kind by kind, a bounded batch per call. Every query stays in the
// tenant's partition and names its tenantId (the emulator ignores a query's
// partition key), and every delete is a point delete there, so no other
// tenant's document is read or touched. Round trips: a count is one query
// (ids only, page by page); a purge call one query for up to limit ids and
// one point delete per id. The audit partition's head document goes last,
// after every event document, so a half-purged chain is never re-headed.
//
// Data items live in the tenant's data containers, which the tenant's
// services name (Service.Container); the tenant document is read to find
// them, so the items kind must be purged before the tenant document is
// deleted (shared/offboard deletes it last).

// kindQuery is the container and filter of a kind's documents.
func (s *Store) kindQuery(kind string) (*azcosmos.ContainerClient, string, error) {
	switch kind {
	case privacy.DataKindRequests:
		return s.requests, "c.docType = '" + docRequest + "'", nil
	case privacy.DataKindInbound:
		return s.requests, "c.docType = '" + docInbound + "'", nil
	case privacy.DataKindBreachNotices:
		// The tenant's notices; the operator's incidents are in the
		// partition _operator, never a tenant's.
		return s.requests, "c.docType = '" + docNotice + "'", nil
	case privacy.DataKindAudit:
		// Event documents first (docType audit-event), then the head; the
		// head's event has no event document, so the partition holds one
		// document per event.
		return s.audit, "(c.docType = '" + docAuditEvent + "' OR c.docType = '" + docAuditHead + "')", nil
	}
	return nil, "", fmt.Errorf("unknown data kind %q", kind)
}

// tenantIDs returns up to limit (0: all) ids of the tenant's documents in c
// matching filter.
func tenantIDs(ctx context.Context, c *azcosmos.ContainerClient, tenantID, filter string, limit int) ([]docRef, error) {
	top := ""
	if limit > 0 {
		top = fmt.Sprintf("TOP %d ", limit)
	}
	var out []docRef
	err := query(ctx, c, azcosmos.NewPartitionKeyString(tenantID), false,
		"SELECT "+top+"c.id FROM c WHERE c.tenantId = @tenantId AND "+filter,
		params("@tenantId", tenantID), nil, 0, func(raw []byte) error {
			var d docRef
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	return out, err
}

type docRef struct {
	ID string `json:"id"`
}

// tenantContainers returns the data containers the tenant's services name.
func (s *Store) tenantContainers(ctx context.Context, tenantID string) ([]*azcosmos.ContainerClient, error) {
	t, err := s.GetTenant(ctx, tenantID)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, svc := range t.Services {
		if svc.Container != "" && validDataContainer(svc.Container) && !slices.Contains(names, svc.Container) {
			names = append(names, svc.Container)
		}
	}
	out := make([]*azcosmos.ContainerClient, 0, len(names))
	for _, name := range names {
		c, err := s.dataContainer(tenantID, name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CountTenantData returns how many documents of kind the tenant has.
func (s *Store) CountTenantData(ctx context.Context, tenantID, kind string) (int, error) {
	if kind == privacy.DataKindItems {
		cs, err := s.tenantContainers(ctx, tenantID)
		if err != nil {
			return 0, fmt.Errorf("count items: %w", err)
		}
		n := 0
		for _, c := range cs {
			ids, err := tenantIDs(ctx, c, tenantID, "true", 0)
			if statusOf(err) == http.StatusNotFound {
				continue // a container the tenant's application never created
			}
			if err != nil {
				return 0, fmt.Errorf("count items: %w", err)
			}
			n += len(ids)
		}
		return n, nil
	}
	c, filter, err := s.kindQuery(kind)
	if err != nil {
		return 0, err
	}
	ids, err := tenantIDs(ctx, c, tenantID, filter, 0)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", kind, err)
	}
	return len(ids), nil
}

// PurgeTenantData deletes up to limit documents of kind of the tenant and
// returns how many it deleted (0: none left). A document deleted meanwhile
// (404) is not counted.
func (s *Store) PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error) {
	if limit <= 0 {
		limit = 500
	}
	if kind == privacy.DataKindItems {
		cs, err := s.tenantContainers(ctx, tenantID)
		if err != nil {
			return 0, fmt.Errorf("purge items: %w", err)
		}
		for _, c := range cs {
			refs, err := tenantIDs(ctx, c, tenantID, "true", limit)
			if statusOf(err) == http.StatusNotFound {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("purge items: %w", err)
			}
			if len(refs) > 0 {
				return deleteRefs(ctx, c, tenantID, refs)
			}
		}
		return 0, nil
	}
	c, filter, err := s.kindQuery(kind)
	if err != nil {
		return 0, err
	}
	if kind == privacy.DataKindAudit {
		// The event documents first, the head once none is left.
		filter = "c.docType = '" + docAuditEvent + "'"
	}
	refs, err := tenantIDs(ctx, c, tenantID, filter, limit)
	if err == nil && len(refs) == 0 && kind == privacy.DataKindAudit {
		refs, err = tenantIDs(ctx, c, tenantID, "c.docType = '"+docAuditHead+"'", limit)
	}
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", kind, err)
	}
	n, err := deleteRefs(ctx, c, tenantID, refs)
	if err != nil {
		return n, fmt.Errorf("purge %s: %w", kind, err)
	}
	return n, nil
}

// deleteRefs point-deletes refs in the tenant's partition of c.
func deleteRefs(ctx context.Context, c *azcosmos.ContainerClient, tenantID string, refs []docRef) (int, error) {
	pk := azcosmos.NewPartitionKeyString(tenantID)
	n := 0
	for _, r := range refs {
		if _, err := c.DeleteItem(ctx, pk, r.ID, nil); err != nil {
			if statusOf(err) == http.StatusNotFound {
				continue
			}
			return n, translate(err)
		}
		n++
	}
	return n, nil
}

// DeleteTenant deletes the tenant document; an absent one is no error.
func (s *Store) DeleteTenant(ctx context.Context, tenantID string) error {
	_, err := s.tenants.DeleteItem(ctx, azcosmos.NewPartitionKeyString(tenantID), tenantID, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("delete tenant %s: %w", tenantID, translate(err))
	}
	return nil
}
