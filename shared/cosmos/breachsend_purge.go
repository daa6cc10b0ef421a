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

// The offboarding purge of the fan-out's documents (shared/offboard): a
// tenant's recipient lists, ledger and campaigns counted and deleted kind by
// kind, a bounded batch per call, in the tenant's partition only. The order
// is the SQLite adapter's: lists before the records of staged lists, the
// campaigns and their batch claims last, so a batch message of a campaign
// that is gone sends nothing. A campaign's counters document is part of the
// campaign (SQLite keeps the counters in the campaign's row): it is not
// counted, and it is deleted just before its campaign, so a crash between
// the two leaves the campaign, which the next call deletes with it.
var bsPurgeKinds = map[string][]string{
	privacy.DataKindBreachRecipients: {docBSRecipient, docBSStaged},
	privacy.DataKindBreachLedger:     {docBSLedger},
	privacy.DataKindBreachCampaigns:  {docBSClaim, docBSCampaign},
}

func bsKind(kind string) ([]string, error) {
	ts, ok := bsPurgeKinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown data kind %q", kind)
	}
	return ts, nil
}

// CountTenantData returns how many documents of the fan-out's kind the
// tenant has: one single-partition count per document type.
func (b *BreachSendStore) CountTenantData(ctx context.Context, tenantID, kind string) (int, error) {
	types, err := bsKind(kind)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, t := range types {
		err := query(ctx, b.c, azcosmos.NewPartitionKeyString(tenantID), false,
			"SELECT VALUE COUNT(1) FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType",
			params("@tenantId", tenantID, "@docType", t), nil, 0, func(raw []byte) error {
				var k int
				if err := json.Unmarshal(raw, &k); err != nil {
					return err
				}
				total += k
				return nil
			})
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", kind, err)
		}
	}
	return total, nil
}

// PurgeTenantData deletes up to limit documents of the fan-out's kind of
// the tenant, type by type, and returns how many it deleted (0: none left).
func (b *BreachSendStore) PurgeTenantData(ctx context.Context, tenantID, kind string, limit int) (int, error) {
	types, err := bsKind(kind)
	if err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = 500
	}
	n := 0
	for _, t := range types {
		if t == docBSCampaign {
			k, err := b.deleteCampaigns(ctx, tenantID, limit-n)
			n += k
			if err != nil {
				return n, fmt.Errorf("purge %s: %w", kind, err)
			}
			break
		}
		k, err := b.deleteSome(ctx, tenantID, "c.docType = @docType", params("@docType", t), limit-n)
		n += k
		if err != nil {
			return n, fmt.Errorf("purge %s: %w", kind, err)
		}
		if n >= limit {
			break
		}
	}
	return n, nil
}

// deleteCampaigns deletes up to limit campaigns of the tenant, each after
// its counters document: one query, then two point deletions a campaign
// (a tenant has a campaign per incident, so few).
func (b *BreachSendStore) deleteCampaigns(ctx context.Context, tenantID string, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	pk := azcosmos.NewPartitionKeyString(tenantID)
	var incidents []string
	err := query(ctx, b.c, pk, false, fmt.Sprintf("SELECT TOP %d c.incidentId FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType", limit),
		params("@tenantId", tenantID, "@docType", docBSCampaign), nil, 0, func(raw []byte) error {
			var d struct {
				IncidentID string `json:"incidentId"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			incidents = append(incidents, d.IncidentID)
			return nil
		})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, inc := range incidents {
		for _, id := range []string{countersID(inc), campaignID(inc)} {
			if _, err := b.c.DeleteItem(ctx, pk, id, nil); err != nil && statusOf(err) != http.StatusNotFound {
				return n, translate(err)
			}
		}
		n++
	}
	return n, nil
}

// TenantCampaigns returns the incident ids of the tenant's campaigns in
// state: one single-partition query.
func (b *BreachSendStore) TenantCampaigns(ctx context.Context, tenantID, state string) ([]string, error) {
	var out []string
	err := query(ctx, b.c, azcosmos.NewPartitionKeyString(tenantID), false,
		"SELECT c.incidentId FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType AND c.campaign.state = @state",
		params("@tenantId", tenantID, "@docType", docBSCampaign, "@state", state), nil, 0, func(raw []byte) error {
			var d struct {
				IncidentID string `json:"incidentId"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			out = append(out, d.IncidentID)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return out, nil
}

// LiveClaims counts the tenant's batch claims that run past now: deliveries
// in flight (or crashed less than a claim's lease ago). The claims are few
// (one per batch being sent); their times are compared here, not as
// strings in the query, whose RFC 3339 forms do not sort.
func (b *BreachSendStore) LiveClaims(ctx context.Context, tenantID string, now time.Time) (int, error) {
	n := 0
	err := query(ctx, b.c, azcosmos.NewPartitionKeyString(tenantID), false,
		"SELECT c.until FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType",
		params("@tenantId", tenantID, "@docType", docBSClaim), nil, 0, func(raw []byte) error {
			var d struct {
				Until time.Time `json:"until"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			if d.Until.After(now) {
				n++
			}
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("count batch claims: %w", err)
	}
	return n, nil
}
