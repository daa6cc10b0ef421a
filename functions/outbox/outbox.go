// Package outbox carries out the outboxes of changed requests (cosmosDBTrigger
// on the requests container's change feed; runs only when
// OUTBOX_DISPATCH=changefeed). Each write of a request records the audit
// entries and messages it implies in the request's own outbox; with this
// function the writer answers at once and the feed brings the document here,
// where the entries are appended and the messages published, each idempotent
// by id. A document whose outbox is empty, or that is not a request, is skipped
// without a store call. A failed batch is returned, so the host retries it
// under the function's retry policy; whatever is left after that the deadline
// watch re-drives.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/privops/privops/shared/trigger"
)

// Service is what the function needs of the request lifecycle.
type Service interface {
	FlushRequest(ctx context.Context, tenantID, id string) error
}

// Deps are the function's collaborators.
type Deps struct {
	Service Service
	Logger  *slog.Logger
}

// document is the part of a changed document the function reads: no personal
// data is decoded.
type document struct {
	ID       string            `json:"id"`
	TenantID string            `json:"tenantId"`
	DocType  string            `json:"docType"`
	Outbox   []json.RawMessage `json:"outbox"`
}

// New returns the change-feed function.
func New(d Deps) trigger.DocumentsFunc {
	return func(ctx context.Context, docs []json.RawMessage) error {
		log := d.Logger.With("function", "outbox", "documents", len(docs))
		if inv, ok := trigger.InvocationFrom(ctx); ok {
			log = log.With("invocation_id", inv.ID)
		}
		var errs []error
		flushed := 0
		for _, raw := range docs {
			var doc document
			if err := json.Unmarshal(raw, &doc); err != nil {
				// Not ours to fix, and retrying cannot help: the container
				// only holds documents this suite wrote.
				log.WarnContext(ctx, "changed document skipped: not a JSON object")
				continue
			}
			if doc.DocType != "request" || len(doc.Outbox) == 0 || doc.ID == "" || doc.TenantID == "" {
				continue
			}
			if err := d.Service.FlushRequest(ctx, doc.TenantID, doc.ID); err != nil {
				log.WarnContext(ctx, "outbox flush failed; the batch will be retried",
					"tenant_id", doc.TenantID, "request_id", doc.ID, "error", err.Error())
				errs = append(errs, fmt.Errorf("request %s/%s: %w", doc.TenantID, doc.ID, err))
				continue
			}
			flushed++
		}
		log.InfoContext(ctx, "outboxes carried out", "flushed", flushed, "failed", len(errs))
		return errors.Join(errs...)
	}
}
