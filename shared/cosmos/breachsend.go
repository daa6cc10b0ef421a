package cosmos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// The breach subject fan-out (shared/breachsend) keeps its documents in a
// container of its own, BreachSendContainer, partitioned by tenant like the
// others: every call but Expired (the hourly watch's) stays in one tenant's
// partition. Per (tenant, incident) there are
//   - a campaign document (docType "bs-campaign"): the domain's JSON under
//     "campaign", replaced only If-Match its ETag, with purgeAt, the time the
//     watch must purge its list;
//   - a counters document ("bs-counters"): sent, failed, bounced. It is apart
//     from the campaign so that the ledger's counting never moves the
//     campaign's ETag (a plan step's checkpoint would lose every race with a
//     sending batch); GetCampaign reads both;
//   - a recipient document per list entry ("bs-recipient", personal data):
//     id the keyed hash of (list, address key), so the id itself dedupes, and
//     seq 1..N, the range batches read;
//   - a ledger document per tried delivery ("bs-ledger"): id the hash of
//     (incident, recipient key, channel, notice version), so a resend finds
//     the row of the first send and a repeated write is a no-op;
//   - staged-list records ("bs-staged") and batch claims ("bs-claim").
//
// Ids are a kind prefix and 40 hex digits of a SHA-256 over the key's parts:
// deterministic (a retry names the same document), never containing a
// character Cosmos refuses, never containing the incident or list id as such.
//
// Where the SQLite adapter uses a transaction, this one uses a transactional
// batch in the tenant's partition (at most maxBatchOps operations): a chunk
// of recipients, a group of ledger rows with their counters, a group of
// deletions. Throttling (429) is retried by the SDK's policy (cosmos.go).
//
// Round trips (see README, "Breach notification: data subjects"):
// AddRecipients one query per 1,000 addresses and one batch per 100;
// Deliveries one query for the range and one for its ledger rows per 1,000
// recipients; Record one query and one batch per group of up to 99 rows (the
// fan-out groups up to 64 concurrent rows); ClaimBatch a read and a write.

// BreachSendContainer holds the fan-out's documents.
const BreachSendContainer = "breachsend"

const (
	docBSCampaign  = "bs-campaign"
	docBSCounters  = "bs-counters"
	docBSRecipient = "bs-recipient"
	docBSLedger    = "bs-ledger"
	docBSStaged    = "bs-staged"
	docBSClaim     = "bs-claim"
)

// maxBatchOps is Cosmos's limit of operations in one transactional batch.
const maxBatchOps = 100

// idsPerQuery bounds the ids one ARRAY_CONTAINS query names.
const idsPerQuery = 1000

var _ breachsend.Store = (*BreachSendStore)(nil)

// BreachSendStore is the fan-out's store on the store's account: campaigns,
// counters, recipient lists, the ledger, staged lists and batch claims.
type BreachSendStore struct {
	c *azcosmos.ContainerClient
}

// BreachSend returns the breach fan-out store on s's database.
func (s *Store) BreachSend() *BreachSendStore { return &BreachSendStore{c: s.breachsend} }

// bsID is a document id: kind and the hash of parts.
func bsID(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return kind + "-" + hex.EncodeToString(h.Sum(nil))[:40]
}

func campaignID(incidentID string) string { return bsID("campaign", incidentID) }
func countersID(incidentID string) string { return bsID("counters", incidentID) }
func recipientID(incidentID, listID, key string) string {
	return bsID("recipient", incidentID, listID, key)
}
func ledgerID(incidentID, key, channel string, version int) string {
	return bsID("ledger", incidentID, key, channel, fmt.Sprint(version))
}
func stagedID(incidentID, listID string) string { return bsID("staged", incidentID, listID) }
func claimID(incidentID string, batch int64) string {
	return bsID("claim", incidentID, fmt.Sprint(batch))
}

type bsCampaignDoc struct {
	ID         string               `json:"id"`
	TenantID   string               `json:"tenantId"`
	DocType    string               `json:"docType"`
	IncidentID string               `json:"incidentId"`
	PurgeAt    string               `json:"purgeAt,omitempty"`
	Campaign   *breachsend.Campaign `json:"campaign"`
}

type bsCountersDoc struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantId"`
	DocType    string `json:"docType"`
	IncidentID string `json:"incidentId"`
	Sent       int64  `json:"sent"`
	Failed     int64  `json:"failed"`
	Bounced    int64  `json:"bounced"`
	SysETag    string `json:"_etag,omitempty"`
}

type bsRecipientDoc struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantId"`
	DocType    string `json:"docType"`
	IncidentID string `json:"incidentId"`
	ListID     string `json:"listId"`
	Seq        int64  `json:"seq"`
	Key        string `json:"key"`
	Email      string `json:"email"`
	Language   string `json:"language"`
	Name       string `json:"name,omitempty"`
	Identifier string `json:"identifier,omitempty"`
}

type bsLedgerDoc struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"tenantId"`
	DocType      string    `json:"docType"`
	IncidentID   string    `json:"incidentId"`
	RecipientKey string    `json:"recipientKey"`
	Channel      string    `json:"channel"`
	Version      int       `json:"version"`
	Status       string    `json:"status"`
	Attempts     int       `json:"attempts"`
	NextAt       time.Time `json:"nextAt,omitzero"`
	At           time.Time `json:"at"`
	Code         string    `json:"code,omitempty"`
	MailID       string    `json:"mailId"`
	SysETag      string    `json:"_etag,omitempty"`
}

type bsStagedDoc struct {
	ID         string `json:"id"`
	TenantID   string `json:"tenantId"`
	DocType    string `json:"docType"`
	IncidentID string `json:"incidentId"`
	ListID     string `json:"listId"`
	PurgeAt    string `json:"purgeAt"`
}

type bsClaimDoc struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenantId"`
	DocType    string    `json:"docType"`
	IncidentID string    `json:"incidentId"`
	Batch      int64     `json:"batch"`
	Owner      string    `json:"owner"`
	Until      time.Time `json:"until"`
}

// GetCampaign reads a campaign and its counters: two point reads.
func (b *BreachSendStore) GetCampaign(ctx context.Context, tenantID, incidentID string) (*breachsend.Campaign, error) {
	pk := azcosmos.NewPartitionKeyString(tenantID)
	resp, err := b.c.ReadItem(ctx, pk, campaignID(incidentID), nil)
	if err != nil {
		return nil, fmt.Errorf("get campaign: %w", translate(err))
	}
	d := bsCampaignDoc{Campaign: new(breachsend.Campaign)}
	if err := json.Unmarshal(resp.Value, &d); err != nil {
		return nil, fmt.Errorf("get campaign: decode: %w", err)
	}
	if d.DocType != docBSCampaign || d.IncidentID != incidentID {
		return nil, fmt.Errorf("get campaign: %w", privacy.ErrNotFound)
	}
	c := d.Campaign
	c.ETag = string(resp.ETag)
	cr, err := b.c.ReadItem(ctx, pk, countersID(incidentID), &azcosmos.ItemOptions{SessionToken: resp.SessionToken})
	switch {
	case errors.Is(translate(err), privacy.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("get campaign counters: %w", translate(err))
	default:
		var n bsCountersDoc
		if err := json.Unmarshal(cr.Value, &n); err != nil {
			return nil, fmt.Errorf("get campaign counters: decode: %w", err)
		}
		c.Sent, c.Failed, c.Bounced = n.Sent, n.Failed, n.Bounced
	}
	return c, nil
}

// PutCampaign creates c with zero counters, in one batch (ETag ""), or
// replaces the campaign document If-Match c.ETag; the counters document is
// never touched by a replace.
func (b *BreachSendStore) PutCampaign(ctx context.Context, c *breachsend.Campaign) error {
	if c.TenantID == "" || c.IncidentID == "" {
		return errors.New("put campaign: tenant and incident are required")
	}
	d := bsCampaignDoc{ID: campaignID(c.IncidentID), TenantID: c.TenantID, DocType: docBSCampaign, IncidentID: c.IncidentID, Campaign: c}
	if at := c.NextPurge(); !at.IsZero() {
		d.PurgeAt = timeKey(at)
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("put campaign: %w", err)
	}
	pk := azcosmos.NewPartitionKeyString(c.TenantID)
	if c.ETag == "" {
		counters, err := json.Marshal(bsCountersDoc{ID: countersID(c.IncidentID), TenantID: c.TenantID, DocType: docBSCounters, IncidentID: c.IncidentID})
		if err != nil {
			return fmt.Errorf("put campaign: %w", err)
		}
		batch := b.c.NewTransactionalBatch(pk)
		batch.CreateItem(doc, nil)
		batch.UpsertItem(counters, nil)
		resp, err := b.execute(ctx, batch)
		if err != nil {
			return fmt.Errorf("put campaign: %w", err)
		}
		c.ETag = string(resp.OperationResults[0].ETag)
		return nil
	}
	etag := azcore.ETag(c.ETag)
	resp, err := b.c.ReplaceItem(ctx, pk, d.ID, doc, &azcosmos.ItemOptions{IfMatchEtag: &etag})
	if err != nil {
		return fmt.Errorf("put campaign: %w", translate(err))
	}
	c.ETag = string(resp.ETag)
	return nil
}

// execute runs a transactional batch and turns a refused one into the
// port's errors, by the status of the operation that failed (the others
// answer 424). The @vercel/cosmosdb-server emulator answers a failed batch
// with 200 rather than real Cosmos's 207 (so the SDK's Success is true) and
// does not roll back the operations before the failing one; hence the
// per-operation check here, and the order of the batches' operations (the
// one most likely to conflict first), which makes the emulator's partial
// batches harmless (see Record).
func (b *BreachSendStore) execute(ctx context.Context, batch azcosmos.TransactionalBatch) (azcosmos.TransactionalBatchResponse, error) {
	resp, err := b.c.ExecuteTransactionalBatch(ctx, batch, nil)
	if err != nil {
		return resp, translate(err)
	}
	for i, r := range resp.OperationResults {
		if r.StatusCode < 400 || r.StatusCode == http.StatusFailedDependency {
			continue
		}
		se := fmt.Errorf("batch operation %d: cosmos answered %d", i, r.StatusCode)
		switch r.StatusCode {
		case http.StatusNotFound:
			return resp, fmt.Errorf("%w: %w", privacy.ErrNotFound, se)
		case http.StatusConflict, http.StatusPreconditionFailed:
			return resp, fmt.Errorf("%w: %w", privacy.ErrConflict, se)
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusRequestTimeout:
			return resp, fmt.Errorf("%w: %w", privacy.ErrUnavailable, se)
		}
		return resp, se
	}
	if !resp.Success {
		return resp, errors.New("transactional batch not committed")
	}
	return resp, nil
}

// existing returns the documents of ids in the tenant's partition, by id:
// one query per idsPerQuery ids. Every query here names the tenant besides
// confining itself to its partition: the emulator ignores the partition key
// of a query, and on Cosmos the filter costs nothing.
func (b *BreachSendStore) existing(ctx context.Context, tenantID string, ids []string, each func(raw []byte) error) error {
	for chunk := range slices.Chunk(ids, idsPerQuery) {
		err := query(ctx, b.c, azcosmos.NewPartitionKeyString(tenantID), false,
			"SELECT * FROM c WHERE c.tenantId = @tenantId AND ARRAY_CONTAINS(@ids, c.id)",
			params("@tenantId", tenantID, "@ids", chunk), nil, int32(len(chunk)), each)
		if err != nil {
			return err
		}
	}
	return nil
}
