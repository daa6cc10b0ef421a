package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// The recipient lists of the breach fan-out on Cosmos (see breachsend.go):
// writing a list, reading a batch's range with its ledger state, and the
// purge's deletions.

// AddRecipients stores the recipients of rs whose key the list does not hold,
// numbered from next on: one query for which exist, then one batch of creates
// per 100 recipients.
func (b *BreachSendStore) AddRecipients(ctx context.Context, tenantID, incidentID, listID string, next int64, rs []breachsend.Recipient) (int64, error) {
	ids := make([]string, 0, len(rs))
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		ids = append(ids, recipientID(incidentID, listID, r.Key))
	}
	err := b.existing(ctx, tenantID, ids, func(raw []byte) error {
		var d struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		seen[d.ID] = true
		return nil
	})
	if err != nil {
		return next, fmt.Errorf("add recipients: %w", err)
	}
	n := next
	var docs [][]byte
	for i, r := range rs {
		if seen[ids[i]] {
			continue
		}
		seen[ids[i]] = true
		doc, err := json.Marshal(bsRecipientDoc{ID: ids[i], TenantID: tenantID, DocType: docBSRecipient, IncidentID: incidentID,
			ListID: listID, Seq: n, Key: r.Key, Email: r.Email, Language: r.Language, Name: r.Name, Identifier: r.Identifier})
		if err != nil {
			return next, fmt.Errorf("add recipients: %w", err)
		}
		docs = append(docs, doc)
		n++
	}
	pk := azcosmos.NewPartitionKeyString(tenantID)
	for chunk := range slices.Chunk(docs, maxBatchOps) {
		batch := b.c.NewTransactionalBatch(pk)
		for _, doc := range chunk {
			batch.CreateItem(doc, nil)
		}
		if _, err := b.execute(ctx, batch); err != nil {
			return next, fmt.Errorf("add recipients: %w", err)
		}
	}
	return n, nil
}

// DeleteList deletes up to limit recipients of list.
func (b *BreachSendStore) DeleteList(ctx context.Context, tenantID, incidentID, listID string, limit int) (int, error) {
	n, err := b.deleteSome(ctx, tenantID, "c.docType = @docType AND c.incidentId = @incident AND c.listId = @list",
		params("@docType", docBSRecipient, "@incident", incidentID, "@list", listID), limit)
	if err != nil {
		return n, fmt.Errorf("delete recipients: %w", err)
	}
	return n, nil
}

// DeleteLedger deletes up to limit ledger rows of an incident.
func (b *BreachSendStore) DeleteLedger(ctx context.Context, tenantID, incidentID string, limit int) (int, error) {
	n, err := b.deleteSome(ctx, tenantID, "c.docType = @docType AND c.incidentId = @incident",
		params("@docType", docBSLedger, "@incident", incidentID), limit)
	if err != nil {
		return n, fmt.Errorf("delete ledger: %w", err)
	}
	return n, nil
}

// deleteSome deletes up to limit documents matching filter: one query for
// their ids, then one batch of deletions per 100. A document deleted
// meanwhile by another call (a batch answering 404) is deleted one by one.
func (b *BreachSendStore) deleteSome(ctx context.Context, tenantID, filter string, ps []azcosmos.QueryParameter, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	pk := azcosmos.NewPartitionKeyString(tenantID)
	var ids []string
	err := query(ctx, b.c, pk, false, fmt.Sprintf("SELECT TOP %d c.id FROM c WHERE c.tenantId = @tenantId AND %s", limit, filter),
		append(ps, params("@tenantId", tenantID)...), nil, 0,
		func(raw []byte) error {
			var d struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			ids = append(ids, d.ID)
			return nil
		})
	if err != nil {
		return 0, err
	}
	n := 0
	for chunk := range slices.Chunk(ids, maxBatchOps) {
		batch := b.c.NewTransactionalBatch(pk)
		for _, id := range chunk {
			batch.DeleteItem(id, nil)
		}
		_, err := b.execute(ctx, batch)
		if errors.Is(err, privacy.ErrNotFound) {
			err = nil
			for _, id := range chunk {
				if _, derr := b.c.DeleteItem(ctx, pk, id, nil); derr != nil && statusOf(derr) != http.StatusNotFound {
					err = translate(derr)
					break
				}
			}
		}
		if err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return n, nil
}

// Deliveries returns recipients from..to of list with their ledger state:
// one query for the range (paged by the SDK) and one per 1,000 recipients
// for their ledger rows, whose ids follow from the keys.
func (b *BreachSendStore) Deliveries(ctx context.Context, tenantID, incidentID, listID, channel string, version int, from, to int64) ([]breachsend.Delivery, error) {
	out := make([]breachsend.Delivery, 0, max(0, min(to-from+1, 5000)))
	if to < from {
		return out, nil
	}
	err := query(ctx, b.c, azcosmos.NewPartitionKeyString(tenantID), false,
		`SELECT * FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType AND c.incidentId = @incident
			AND c.listId = @list AND c.seq >= @from AND c.seq <= @to ORDER BY c.seq`,
		params("@tenantId", tenantID, "@docType", docBSRecipient, "@incident", incidentID, "@list", listID, "@from", from, "@to", to), nil,
		int32(min(to-from+1, idsPerQuery)), func(raw []byte) error {
			var d bsRecipientDoc
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			out = append(out, breachsend.Delivery{Recipient: breachsend.Recipient{Seq: d.Seq, Key: d.Key, Email: d.Email,
				Language: d.Language, Name: d.Name, Identifier: d.Identifier}, Status: breachsend.StatusPending})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	ids := make([]string, len(out))
	at := make(map[string]int, len(out))
	for i, d := range out {
		ids[i] = ledgerID(incidentID, d.Key, channel, version)
		at[ids[i]] = i
	}
	err = b.existing(ctx, tenantID, ids, func(raw []byte) error {
		var l bsLedgerDoc
		if err := json.Unmarshal(raw, &l); err != nil {
			return err
		}
		if i, ok := at[l.ID]; ok && l.DocType == docBSLedger {
			out[i].Status, out[i].Attempts, out[i].NextAt = l.Status, l.Attempts, l.NextAt
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	return out, nil
}
