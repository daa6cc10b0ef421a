package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

// Operator-level leases (the retention timer's, one per occurrence): one
// document per lease in the requests container, in the operator's partition
// (privacy.OperatorTenant), id "lease:" + name, docType "lease"; every
// request and inbound query names its own docType, so a lease is never read
// as one. A lease document carries a ttl of a day past its expiry, so the
// container's TTL removes the leases of past occurrences.
const docLease = "lease"

// leaseKeep is how long a lease document outlives its expiry.
const leaseKeep = 24 * time.Hour

type leaseDoc struct {
	ID       string    `json:"id"`
	TenantID string    `json:"tenantId"`
	DocType  string    `json:"docType"`
	Owner    string    `json:"owner"`
	Until    time.Time `json:"until"`
	TTL      int32     `json:"ttl,omitempty"`
}

// AcquireLease gives the lease name to owner until then, unless another owner
// holds it past now; a renewal by the holder always succeeds. A point read,
// then a create or an If-Match replace: of two callers at once one wins, the
// other reads again and sees the winner's lease.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	pk := azcosmos.NewPartitionKeyString(privacy.OperatorTenant)
	id := "lease:" + name
	doc, err := json.Marshal(leaseDoc{ID: id, TenantID: privacy.OperatorTenant, DocType: docLease, Owner: owner, Until: until.UTC(),
		TTL: ttlUntil(until.Add(leaseKeep), now)})
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	for range 10 {
		resp, err := s.requests.ReadItem(ctx, pk, id, nil)
		if statusOf(err) == http.StatusNotFound {
			_, err = s.requests.CreateItem(ctx, pk, doc, nil)
			if statusOf(err) == http.StatusConflict {
				continue
			}
			if err != nil {
				return false, fmt.Errorf("acquire lease %s: %w", name, translate(err))
			}
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("acquire lease %s: %w", name, translate(err))
		}
		var cur leaseDoc
		if err := json.Unmarshal(resp.Value, &cur); err != nil {
			return false, fmt.Errorf("acquire lease %s: decode: %w", name, err)
		}
		if cur.Owner != owner && cur.Until.After(now) {
			return false, nil
		}
		etag := resp.ETag
		_, err = s.requests.ReplaceItem(ctx, pk, id, doc, &azcosmos.ItemOptions{IfMatchEtag: &etag})
		if statusOf(err) == http.StatusPreconditionFailed || statusOf(err) == http.StatusNotFound {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("acquire lease %s: %w", name, translate(err))
		}
		return true, nil
	}
	return false, fmt.Errorf("acquire lease %s: %w", name, privacy.ErrConflict)
}

// ReleaseLease ends owner's lease, if it still holds it (an If-Match delete
// of the document it read). Idempotent.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	pk := azcosmos.NewPartitionKeyString(privacy.OperatorTenant)
	id := "lease:" + name
	resp, err := s.requests.ReadItem(ctx, pk, id, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, translate(err))
	}
	var cur leaseDoc
	if err := json.Unmarshal(resp.Value, &cur); err != nil {
		return fmt.Errorf("release lease %s: decode: %w", name, err)
	}
	if cur.Owner != owner {
		return nil
	}
	etag := resp.ETag
	_, err = s.requests.DeleteItem(ctx, pk, id, &azcosmos.ItemOptions{IfMatchEtag: &etag})
	if err != nil && statusOf(err) != http.StatusNotFound && statusOf(err) != http.StatusPreconditionFailed {
		return fmt.Errorf("release lease %s: %w", name, translate(err))
	}
	return nil
}
