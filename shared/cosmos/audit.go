package cosmos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/privops/privops/shared/privacy"
)

// The audit chain of a tenant lives in the tenant's partition of the audit
// container as
//
//   - one head document (id "head") holding the newest sealed event, whose
//     ETag is the chain's single point of serialisation, and
//   - one event document per older event (id "event-" + SHA-256 of the event
//     id, so that a point read finds an event by its id), holding its seq.
//
// Invariant: every event with a seq below the head's has its event document;
// the head's own event may not have one yet. An append (AppendAudit)
//
//  1. reads the head (a point read; absent means an empty chain);
//  2. if the head's event is e's id, returns it (a repeated append);
//  3. creates the event document of the head's event ("materialises" it;
//     409 means someone already did), which keeps the invariant for step 5;
//  4. point-reads e's event document with the head's session token: if it
//     exists, e was appended earlier and is returned (idempotent by event id);
//  5. seals e after the head's event and replaces the head with it, guarded by
//     the head's ETag (creates it for the first event). 412 or 409 means
//     another append won the seq: back to 1 after a short jittered pause.
//
// The head replace is the commit: it is one document write, so the chain never
// forks and seqs have no gaps, with no transactional batch. An event id cannot
// land twice: if it had been committed at seq s, the head that step 1 read is
// at s (step 2 sees it) or past s, in which case the append that moved the head
// past s had materialised it first (step 3), and step 4 finds it, reading at
// least as fresh as the head thanks to the session token. A crash anywhere
// leaves at most the head's event unmaterialised, which the next append does.
//
// Round trips: an append to a chain that has events costs 2 point reads (head,
// own event) and 2 writes (materialise the previous event, replace the head);
// the first append of a tenant costs 2 point reads and 1 write.

// auditHeadID is the id of a tenant's head document.
const auditHeadID = "head"

// maxAppendAttempts bounds the retries of an append that keeps losing the head
// to concurrent appends; then it reports privacy.ErrUnavailable.
const maxAppendAttempts = 200

// auditEventDoc is one materialised audit event.
type auditEventDoc struct {
	ID       string             `json:"id"`
	TenantID string             `json:"tenantId"`
	DocType  string             `json:"docType"`
	Seq      int64              `json:"seq"`
	Event    privacy.AuditEvent `json:"event"`
}

// auditHeadDoc is a tenant's chain head.
type auditHeadDoc struct {
	ID       string              `json:"id"`
	TenantID string              `json:"tenantId"`
	DocType  string              `json:"docType"`
	Last     *privacy.AuditEvent `json:"last"`
}

func auditEventID(eventID string) string {
	h := sha256.Sum256([]byte(eventID))
	return "event-" + hex.EncodeToString(h[:16])
}

// AppendAudit appends e to its tenant's chain (see the protocol above): it
// assigns e.Seq, e.PrevHash and e.Hash. It is idempotent by e.ID, which is
// required: if the chain holds an event with that id, nothing is appended and
// e is filled from the stored event.
func (s *Store) AppendAudit(ctx context.Context, e *privacy.AuditEvent) error {
	if e.TenantID == "" || e.ID == "" {
		return errors.New("append audit event: tenant id and event id are required")
	}
	for attempt := range maxAppendAttempts {
		stored, err := s.tryAppend(ctx, e)
		if err == nil {
			*e = *stored
			return nil
		}
		if !errors.Is(err, privacy.ErrConflict) {
			return fmt.Errorf("append audit event %s: %w", e.ID, err)
		}
		// Another append moved the head: wait a little, more after each loss.
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return fmt.Errorf("append audit event %s: %w", e.ID, translate(ctx.Err()))
		}
	}
	return fmt.Errorf("append audit event %s: the chain head stayed contended: %w", e.ID, privacy.ErrUnavailable)
}

// tryAppend makes one attempt; privacy.ErrConflict means "try again".
func (s *Store) tryAppend(ctx context.Context, e *privacy.AuditEvent) (*privacy.AuditEvent, error) {
	pk := azcosmos.NewPartitionKeyString(e.TenantID)
	head, etag, session, err := s.readHead(ctx, e.TenantID)
	if err != nil {
		return nil, err
	}
	if head != nil {
		if head.ID == e.ID {
			return head, nil
		}
		if err := s.materialise(ctx, head); err != nil {
			return nil, err
		}
	}
	resp, err := s.audit.ReadItem(ctx, pk, auditEventID(e.ID), &azcosmos.ItemOptions{SessionToken: session})
	switch {
	case err == nil:
		var d auditEventDoc
		if err := json.Unmarshal(resp.Value, &d); err != nil {
			return nil, fmt.Errorf("decode stored event: %w", err)
		}
		return &d.Event, nil
	case !errors.Is(translate(err), privacy.ErrNotFound):
		return nil, fmt.Errorf("read event: %w", translate(err))
	}

	sealed := *e
	sealed.Details = cloneDetails(e.Details)
	privacy.Seal(&sealed, head)
	doc, err := json.Marshal(auditHeadDoc{ID: auditHeadID, TenantID: e.TenantID, DocType: docAuditHead, Last: &sealed})
	if err != nil {
		return nil, err
	}
	if etag == "" {
		_, err = s.audit.CreateItem(ctx, pk, doc, nil)
	} else {
		_, err = s.audit.ReplaceItem(ctx, pk, auditHeadID, doc, &azcosmos.ItemOptions{IfMatchEtag: &etag})
	}
	if err != nil {
		return nil, fmt.Errorf("advance head: %w", translate(err)) // ErrConflict: lost the seq
	}
	return &sealed, nil
}

// readHead returns the head's event (nil for an empty chain), its ETag ("" if
// there is no head document) and the read's session token.
func (s *Store) readHead(ctx context.Context, tenantID string) (*privacy.AuditEvent, azcore.ETag, *string, error) {
	resp, err := s.audit.ReadItem(ctx, azcosmos.NewPartitionKeyString(tenantID), auditHeadID, nil)
	if err != nil {
		if errors.Is(translate(err), privacy.ErrNotFound) {
			return nil, "", sessionToken(err), nil
		}
		return nil, "", nil, fmt.Errorf("read head: %w", translate(err))
	}
	var d auditHeadDoc
	if err := json.Unmarshal(resp.Value, &d); err != nil {
		return nil, "", nil, fmt.Errorf("decode head: %w", err)
	}
	return d.Last, resp.ETag, resp.SessionToken, nil
}

// materialise creates the event document of e; one that exists is fine.
func (s *Store) materialise(ctx context.Context, e *privacy.AuditEvent) error {
	doc, err := json.Marshal(auditEventDoc{ID: auditEventID(e.ID), TenantID: e.TenantID, DocType: docAuditEvent,
		Seq: e.Seq, Event: *e})
	if err != nil {
		return err
	}
	_, err = s.audit.CreateItem(ctx, azcosmos.NewPartitionKeyString(e.TenantID), doc, nil)
	if err != nil && statusOf(err) != 409 {
		return fmt.Errorf("materialise event %d: %w", e.Seq, translate(err))
	}
	return nil
}

func cloneDetails(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ListAudit returns up to limit (default 100, at most 1000) events of a tenant
// with Seq > afterSeq, in Seq order: the head (a point read), then a query
// confined to the tenant's partition, at least as fresh as the head, for the
// materialised events; the head's event completes the page if it is not
// materialised yet.
func (s *Store) ListAudit(ctx context.Context, tenantID string, afterSeq int64, limit int) ([]privacy.AuditEvent, error) {
	limit = pageSize(limit, 100)
	head, _, session, err := s.readHead(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out := []privacy.AuditEvent{}
	if head == nil || head.Seq <= afterSeq {
		return out, nil
	}
	err = query(ctx, s.audit, azcosmos.NewPartitionKeyString(tenantID), false,
		`SELECT TOP @limit * FROM c WHERE c.tenantId = @tenantId AND c.docType = @docType AND c.seq > @after ORDER BY c.seq`,
		params("@limit", limit, "@tenantId", tenantID, "@docType", docAuditEvent, "@after", afterSeq), session, 0,
		func(raw []byte) error {
			var d auditEventDoc
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			out = append(out, d.Event)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	if len(out) < limit && (len(out) == 0 || out[len(out)-1].Seq < head.Seq) {
		out = append(out, *head) // not materialised yet
	}
	return out, nil
}
