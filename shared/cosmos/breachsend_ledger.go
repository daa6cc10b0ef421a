package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
)

// recordAttempts bounds how often Record re-reads and retries a group whose
// batch lost a race (another writer moved a counters document or a row).
const recordAttempts = 20

// Record writes ledger entries, each unless its row is terminal, and counts
// the terminal ones in their campaigns' counters. Entries are grouped by
// tenant (one partition) into chunks that fit one transactional batch; each
// chunk is one query (its rows and counters, by id) and one batch: first an
// If-Match replace of each counters document that changes, then a create (a
// new row) or an If-Match replace (a row not yet terminal) per entry. A batch
// that loses a race is read again and retried; a row that became terminal
// meanwhile is then skipped and not counted twice.
//
// Why counters go first: every chunk that counts something for an incident
// replaces its counters If-Match, so such chunks serialise on that ETag and a
// conflict is met at the first operation, before any row is written. Real
// Cosmos rolls a failed batch back anyway; the emulator does not (see
// execute), and with this order its partial batches write nothing.
// Counters by patch (an increment without ETag, fewer conflicts between
// instances) would be cheaper under heavy contention, but the emulator runs
// no patch inside a batch, so it could not be tested here.
func (b *BreachSendStore) Record(ctx context.Context, es ...breachsend.LedgerEntry) ([]bool, error) {
	changed := make([]bool, len(es))
	byTenant := map[string][]int{}
	var tenants []string
	for i, e := range es {
		if byTenant[e.TenantID] == nil {
			tenants = append(tenants, e.TenantID)
		}
		byTenant[e.TenantID] = append(byTenant[e.TenantID], i)
	}
	for _, tenant := range tenants {
		for _, chunk := range recordChunks(es, byTenant[tenant]) {
			var err error
			for attempt := range recordAttempts {
				if err = b.recordChunk(ctx, tenant, es, chunk, changed); !errors.Is(err, privacy.ErrConflict) {
					break
				}
				if err = backoff(ctx, attempt); err != nil {
					break
				}
			}
			if err != nil {
				return nil, fmt.Errorf("record deliveries: %w", err)
			}
		}
	}
	return changed, nil
}

// backoff waits before the next try of a batch that lost a race: a few
// milliseconds, more each time, with jitter so that racing instances part.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(attempt+1)*2*time.Millisecond + time.Duration(rand.Int64N(int64(4*time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// recordChunks splits idx so that each chunk's rows and counters documents
// fit one batch.
func recordChunks(es []breachsend.LedgerEntry, idx []int) [][]int {
	var out [][]int
	var cur []int
	incidents := map[string]bool{}
	for _, i := range idx {
		extra := 1
		if !incidents[es[i].IncidentID] {
			extra = 2
		}
		if len(cur)+len(incidents)+extra > maxBatchOps {
			out = append(out, cur)
			cur, incidents = nil, map[string]bool{}
			extra = 2
		}
		cur = append(cur, i)
		incidents[es[i].IncidentID] = true
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

type ledgerState struct {
	status string
	etag   string // "" if the row does not exist yet
}

// recordChunk writes one chunk of one tenant's entries, setting changed for
// them only if its batch commits.
func (b *BreachSendStore) recordChunk(ctx context.Context, tenantID string, es []breachsend.LedgerEntry, idx []int, changed []bool) error {
	ids := make([]string, 0, len(idx)*2)
	var incidents []string
	for _, i := range idx {
		ids = append(ids, ledgerID(es[i].IncidentID, es[i].RecipientKey, es[i].Channel, es[i].Version))
		if !slices.Contains(incidents, es[i].IncidentID) {
			incidents = append(incidents, es[i].IncidentID)
		}
	}
	for _, inc := range incidents {
		ids = append(ids, countersID(inc))
	}
	rows := map[string]ledgerState{}
	counters := map[string]*bsCountersDoc{}
	err := b.existing(ctx, tenantID, ids, func(raw []byte) error {
		var d bsLedgerDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		switch d.DocType {
		case docBSLedger:
			rows[d.ID] = ledgerState{status: d.Status, etag: d.SysETag}
		case docBSCounters:
			var c bsCountersDoc
			if err := json.Unmarshal(raw, &c); err != nil {
				return err
			}
			counters[c.IncidentID] = &c
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Decide in order, as the SQLite adapter's statements run: a later
	// entry for the same row sees the earlier one.
	ok := make([]bool, len(idx))
	status := map[string]string{}
	var order []string
	docs := map[string]bsLedgerDoc{}
	delta := map[string]*[3]int64{}
	for k, i := range idx {
		e := es[i]
		id := ids[k]
		cur, seen := status[id]
		if !seen {
			cur = rows[id].status
		}
		if breachsend.Terminal(cur) {
			continue
		}
		ok[k] = true
		status[id] = e.Status
		if _, queued := docs[id]; !queued {
			order = append(order, id)
		}
		docs[id] = bsLedgerDoc{ID: id, TenantID: tenantID, DocType: docBSLedger, IncidentID: e.IncidentID, RecipientKey: e.RecipientKey,
			Channel: e.Channel, Version: e.Version, Status: e.Status, Attempts: e.Attempts, NextAt: e.NextAt.UTC(), At: e.At.UTC(),
			Code: e.Code, MailID: e.MailID}
		if col := map[string]int{breachsend.StatusSent: 1, breachsend.StatusFailed: 2, breachsend.StatusBounced: 3}[e.Status]; col > 0 {
			if delta[e.IncidentID] == nil {
				delta[e.IncidentID] = new([3]int64)
			}
			delta[e.IncidentID][col-1]++
		}
	}
	if len(order) == 0 {
		copyChanged(changed, idx, ok)
		return nil
	}
	batch := b.c.NewTransactionalBatch(azcosmos.NewPartitionKeyString(tenantID))
	for _, inc := range incidents {
		d := delta[inc]
		if d == nil {
			continue
		}
		c := counters[inc]
		if c == nil {
			// No campaign counted yet (a campaign is created with its
			// counters; this is a ledger row without one): create it.
			c = &bsCountersDoc{ID: countersID(inc), TenantID: tenantID, DocType: docBSCounters, IncidentID: inc}
		}
		etag := c.SysETag
		c.Sent, c.Failed, c.Bounced, c.SysETag = c.Sent+d[0], c.Failed+d[1], c.Bounced+d[2], ""
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if etag == "" {
			batch.CreateItem(doc, nil)
		} else {
			e := azcore.ETag(etag)
			batch.ReplaceItem(c.ID, doc, &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &e})
		}
	}
	for _, id := range order {
		doc, err := json.Marshal(docs[id])
		if err != nil {
			return err
		}
		if etag := rows[id].etag; etag != "" {
			e := azcore.ETag(etag)
			batch.ReplaceItem(id, doc, &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &e})
		} else {
			batch.CreateItem(doc, nil)
		}
	}
	if _, err := b.execute(ctx, batch); err != nil {
		return err
	}
	copyChanged(changed, idx, ok)
	return nil
}

func copyChanged(changed []bool, idx []int, ok []bool) {
	for k, i := range idx {
		changed[i] = ok[k]
	}
}

// ClaimBatch gives batch to owner until then, unless another owner holds it
// past now: a point read and an If-Match replace (or a create). A lost race
// is read again.
func (b *BreachSendStore) ClaimBatch(ctx context.Context, tenantID, incidentID string, batch int64, owner string, now, until time.Time) (bool, error) {
	pk := azcosmos.NewPartitionKeyString(tenantID)
	id := claimID(incidentID, batch)
	doc, err := json.Marshal(bsClaimDoc{ID: id, TenantID: tenantID, DocType: docBSClaim, IncidentID: incidentID, Batch: batch,
		Owner: owner, Until: until.UTC()})
	if err != nil {
		return false, fmt.Errorf("claim batch: %w", err)
	}
	for range recordAttempts {
		resp, err := b.c.ReadItem(ctx, pk, id, nil)
		if statusOf(err) == http.StatusNotFound {
			_, err = b.c.CreateItem(ctx, pk, doc, nil)
			if statusOf(err) == http.StatusConflict {
				continue
			}
			if err != nil {
				return false, fmt.Errorf("claim batch: %w", translate(err))
			}
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("claim batch: %w", translate(err))
		}
		var cur bsClaimDoc
		if err := json.Unmarshal(resp.Value, &cur); err != nil {
			return false, fmt.Errorf("claim batch: decode: %w", err)
		}
		if cur.Owner != owner && cur.Until.After(now) {
			return false, nil
		}
		etag := resp.ETag
		_, err = b.c.ReplaceItem(ctx, pk, id, doc, &azcosmos.ItemOptions{IfMatchEtag: &etag})
		if statusOf(err) == http.StatusPreconditionFailed || statusOf(err) == http.StatusNotFound {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("claim batch: %w", translate(err))
		}
		return true, nil
	}
	return false, fmt.Errorf("claim batch: %w", privacy.ErrConflict)
}

// ReleaseBatch deletes owner's claim, If-Match the claim it read.
func (b *BreachSendStore) ReleaseBatch(ctx context.Context, tenantID, incidentID string, batch int64, owner string) error {
	pk := azcosmos.NewPartitionKeyString(tenantID)
	id := claimID(incidentID, batch)
	resp, err := b.c.ReadItem(ctx, pk, id, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release batch: %w", translate(err))
	}
	var cur bsClaimDoc
	if err := json.Unmarshal(resp.Value, &cur); err != nil {
		return fmt.Errorf("release batch: decode: %w", err)
	}
	if cur.Owner != owner {
		return nil
	}
	etag := resp.ETag
	_, err = b.c.DeleteItem(ctx, pk, id, &azcosmos.ItemOptions{IfMatchEtag: &etag})
	if s := statusOf(err); s == http.StatusNotFound || s == http.StatusPreconditionFailed {
		return nil // gone, or taken over by another owner: no longer ours
	}
	if err != nil {
		return fmt.Errorf("release batch: %w", translate(err))
	}
	return nil
}

// StageList upserts the staged record of list: one write.
func (b *BreachSendStore) StageList(ctx context.Context, tenantID, incidentID, listID string, purgeAt time.Time) error {
	doc, err := json.Marshal(bsStagedDoc{ID: stagedID(incidentID, listID), TenantID: tenantID, DocType: docBSStaged,
		IncidentID: incidentID, ListID: listID, PurgeAt: timeKey(purgeAt)})
	if err != nil {
		return fmt.Errorf("stage list: %w", err)
	}
	if _, err := b.c.UpsertItem(ctx, azcosmos.NewPartitionKeyString(tenantID), doc, nil); err != nil {
		return fmt.Errorf("stage list: %w", translate(err))
	}
	return nil
}

// UnstageList deletes the staged record of list, if there is one.
func (b *BreachSendStore) UnstageList(ctx context.Context, tenantID, incidentID, listID string) error {
	_, err := b.c.DeleteItem(ctx, azcosmos.NewPartitionKeyString(tenantID), stagedID(incidentID, listID), nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("unstage list: %w", translate(err))
	}
	return nil
}

// Expired returns up to limit campaigns and staged lists of any tenant due
// before now, the earliest first. It is a cross-partition query, like
// ListTenants, and only the hourly watch calls it; the Go SDK fans out no
// ORDER BY or TOP across partitions, so the due documents (few: only
// expired lists) are sorted and cut here.
func (b *BreachSendStore) Expired(ctx context.Context, now time.Time, limit int) ([]breachsend.Due, error) {
	type due struct {
		breachsend.Due
		at string
	}
	var all []due
	err := query(ctx, b.c, azcosmos.NewPartitionKey(), true,
		`SELECT c.tenantId, c.incidentId, c.listId, c.docType, c.purgeAt FROM c
			WHERE (c.docType = @campaign OR c.docType = @staged) AND c.purgeAt <= @now`,
		params("@campaign", docBSCampaign, "@staged", docBSStaged, "@now", timeKey(now)), nil, 0,
		func(raw []byte) error {
			var d struct {
				TenantID, IncidentID, ListID, DocType, PurgeAt string
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			if d.PurgeAt == "" {
				return nil
			}
			x := due{Due: breachsend.Due{TenantID: d.TenantID, IncidentID: d.IncidentID}, at: d.PurgeAt}
			if d.DocType == docBSStaged {
				x.ListID, x.Staged = d.ListID, true
			}
			all = append(all, x)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list expired lists: %w", err)
	}
	slices.SortFunc(all, func(a, b due) int { return strings.Compare(a.at, b.at) })
	out := make([]breachsend.Due, 0, min(len(all), max(limit, 0)))
	for _, d := range all[:min(len(all), max(limit, 0))] {
		out = append(out, d.Due)
	}
	return out, nil
}

// CountRecipients counts the recipient documents an incident holds, in
// every list: one single-partition query.
func (b *BreachSendStore) CountRecipients(ctx context.Context, tenantID, incidentID string) (int, error) {
	n := 0
	err := query(ctx, b.c, azcosmos.NewPartitionKeyString(tenantID), false,
		"SELECT VALUE COUNT(1) FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType AND c.incidentId = @incident",
		params("@tenantId", tenantID, "@docType", docBSRecipient, "@incident", incidentID), nil, 0, func(raw []byte) error {
			var k int
			if err := json.Unmarshal(raw, &k); err != nil {
				return err
			}
			n += k
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("count recipients: %w", err)
	}
	return n, nil
}
