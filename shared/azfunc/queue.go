package azfunc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/privops/privops/shared/trigger"
)

// invokeQueue runs a queue function for one Service Bus message: 200 completes
// it, 500 abandons it for redelivery (and, in the end, the dead-letter queue).
func (h *Handler) invokeQueue(ctx context.Context, w http.ResponseWriter, e entry, env envelope, log *slog.Logger) bool {
	m, err := decodeMessage(env, e.spec.TriggerName)
	if err != nil {
		// Our bug, not the sender's: keep the message for a replay after the fix.
		log.Error("decode service bus trigger; message will be redelivered", "error", err)
		replyFailure(w)
		return false
	}
	m.Queue = e.spec.Queue
	log = log.With("message_id", m.ID, "delivery_count", m.DeliveryCount)
	err = safeCall(func() error { return e.fn.Queue(ctx, m) })
	var rej *trigger.Rejection
	if errors.As(err, &rej) {
		// A custom handler cannot dead-letter: record why and complete it.
		log.Warn("message rejected", "reason", rej.Reason)
		err = nil
	}
	if err != nil {
		logError(log, "queue function failed; message will be redelivered", err)
		replyFailure(w)
		return false
	}
	replySuccess(ctx, w)
	return true
}

// decodeMessage reads Data.<trigger> and the message metadata (reference §3.5).
// Metadata that is absent keeps its zero value (DeliveryCount 1); metadata that
// is present but does not parse is a malformed payload.
func decodeMessage(env envelope, triggerName string) (trigger.Message, error) {
	raw, ok := env.data(triggerName)
	if !ok {
		return trigger.Message{}, fmt.Errorf("%w: no Data.%s", errBadPayload, triggerName)
	}
	body, err := messageBody(raw)
	if err != nil {
		return trigger.Message{}, err
	}
	m := trigger.Message{Body: body, DeliveryCount: 1}

	if s, ok, err := scalar(env.Metadata["DeliveryCount"]); err != nil {
		return trigger.Message{}, fmt.Errorf("DeliveryCount: %w", err)
	} else if ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return trigger.Message{}, fmt.Errorf("%w: DeliveryCount %q", errBadPayload, s)
		}
		m.DeliveryCount = n
	}
	if s, ok, err := scalar(env.Metadata["MessageId"]); err != nil {
		return trigger.Message{}, fmt.Errorf("MessageId: %w", err)
	} else if ok {
		m.ID = s
	}
	// EnqueuedTime is a DateTimeOffset (RFC 3339); EnqueuedTimeUtc has no zone
	// (host issue #6997) and is only the fallback.
	for _, key := range []string{"EnqueuedTime", "EnqueuedTimeUtc"} {
		s, ok, err := scalar(env.Metadata[key])
		if err != nil {
			return trigger.Message{}, fmt.Errorf("%s: %w", key, err)
		}
		if !ok {
			continue
		}
		if m.EnqueuedAt, err = parseTime(s); err != nil {
			return trigger.Message{}, fmt.Errorf("%s: %w", key, err)
		}
		break
	}
	if s, ok, err := scalar(env.Metadata["ContentType"]); err != nil {
		return trigger.Message{}, fmt.Errorf("ContentType: %w", err)
	} else if ok {
		m.ContentType = s
	}
	props, err := properties(env.Metadata["ApplicationProperties"])
	if err != nil {
		return trigger.Message{}, err
	}
	if props == nil {
		// The extension also sends the legacy name with the same content.
		if props, err = properties(env.Metadata["UserProperties"]); err != nil {
			return trigger.Message{}, err
		}
	}
	m.Properties = props
	return m, nil
}

// properties decodes the application properties: an object whose values are
// JSON scalars (a string, or a number or boolean kept as its JSON text). The
// host may string-encode the whole object; that form is unwrapped first.
func properties(raw json.RawMessage) (map[string]string, error) {
	t := strings.TrimSpace(string(raw))
	if t == "" || t == "null" {
		return nil, nil
	}
	if strings.HasPrefix(t, `"`) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: ApplicationProperties: %v", errBadPayload, err)
		}
		t = s
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t), &obj); err != nil {
		return nil, fmt.Errorf("%w: ApplicationProperties is not an object", errBadPayload)
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		out[k] = strings.TrimSpace(string(v))
	}
	return out, nil
}

// messageBody decodes the trigger value. With dataType "binary" it is base64
// of the exact body bytes. Defensively, the default (string) form is accepted
// too: a JSON string holding the JSON-encoded body string ("\"{\\\"a\\\":1}\"").
// The two cannot be confused: base64 never starts with a quote.
func messageBody(raw json.RawMessage) ([]byte, error) {
	t := strings.TrimSpace(string(raw))
	if t == "" || t == "null" {
		return nil, fmt.Errorf("%w: message body is null", errBadPayload)
	}
	if !strings.HasPrefix(t, `"`) {
		// An object or array: a host that handed the JSON body over parsed.
		return []byte(t), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: message body: %v", errBadPayload, err)
	}
	if strings.HasPrefix(s, `"`) {
		var inner string
		if err := json.Unmarshal([]byte(s), &inner); err != nil {
			return nil, fmt.Errorf("%w: double-encoded message body: %v", errBadPayload, err)
		}
		return []byte(inner), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: message body is not base64 (is dataType \"binary\" set?)", errBadPayload)
	}
	return b, nil
}
