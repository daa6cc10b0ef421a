package azfunc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// invokeDocuments runs a change-feed function for one batch. 200 lets the
// extension advance its checkpoint; 500 has the host retry the batch under the
// function's retry policy.
func (h *Handler) invokeDocuments(ctx context.Context, w http.ResponseWriter, e entry, env envelope, log *slog.Logger) bool {
	docs, err := decodeDocuments(env, e.spec.TriggerName)
	if err != nil {
		log.Error("decode cosmos db trigger", "error", err)
		replyFailure(w)
		return false
	}
	log = log.With("documents", len(docs))
	if err := safeCall(func() error { return e.fn.Documents(ctx, docs) }); err != nil {
		logError(log, "change feed function failed; the batch will be retried", err)
		replyFailure(w)
		return false
	}
	replySuccess(ctx, w)
	return true
}

// maxDocumentsNesting bounds the string-in-string unwrapping below.
const maxDocumentsNesting = 3

// decodeDocuments reads Data.<trigger> of a cosmosDBTrigger (reference §3.6):
// the extension serialises the batch as JSON array text and the host
// string-encodes that again, so the value is a JSON string holding a JSON
// string holding the array. Each layer is unwrapped until the array appears,
// which also accepts a host that sends the array or a single layer.
func decodeDocuments(env envelope, triggerName string) ([]json.RawMessage, error) {
	raw, ok := env.data(triggerName)
	if !ok {
		return nil, fmt.Errorf("%w: no Data.%s", errBadPayload, triggerName)
	}
	for range maxDocumentsNesting {
		t := strings.TrimSpace(string(raw))
		switch {
		case strings.HasPrefix(t, "["):
			var docs []json.RawMessage
			if err := json.Unmarshal([]byte(t), &docs); err != nil {
				return nil, fmt.Errorf("%w: Data.%s: %v", errBadPayload, triggerName, err)
			}
			return docs, nil
		case strings.HasPrefix(t, `"`):
			var s string
			if err := json.Unmarshal([]byte(t), &s); err != nil {
				return nil, fmt.Errorf("%w: Data.%s: %v", errBadPayload, triggerName, err)
			}
			raw = json.RawMessage(s)
		default:
			return nil, fmt.Errorf("%w: Data.%s is neither an array nor a string", errBadPayload, triggerName)
		}
	}
	return nil, fmt.Errorf("%w: Data.%s is nested more than %d strings deep", errBadPayload, triggerName, maxDocumentsNesting)
}
