package azfunc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

var (
	// errBadPayload marks an invocation payload we cannot decode.
	errBadPayload = errors.New("malformed invocation payload")
	// errPanic marks a function that panicked.
	errPanic = errors.New("function panicked")
)

// envelope is the payload-mode request body (reference §3.1).
type envelope struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// result is the payload-mode reply (reference §4.1).
type result struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue,omitempty"`
}

// invoke handles one payload-mode invocation.
func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, e entry) {
	start := time.Now()
	id := r.Header.Get(invocationHeader)
	ctx := trigger.WithInvocation(r.Context(), trigger.Invocation{ID: id, Function: e.spec.Name})
	// The function's records below Warn (logged with ctx) travel in the reply's
	// Logs, which the host files under this invocation; a failed invocation's
	// reply is thrown away, so they are written to stdout instead.
	ctx, capture := logging.WithCapture(ctx)
	log := h.logger.With("function", e.spec.Name, "invocation_id", id, "trigger", string(e.spec.Kind))

	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) && e.spec.Kind == funcjson.KindHTTP {
			// The caller sent more than we accept: their error, not ours.
			log.Warn("invocation payload too large", "limit_bytes", h.maxBody)
			h.replyHTTP(w, e.spec, problemOutput(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body must be at most %d bytes", h.maxBody)), nil)
			return
		}
		log.Error("read invocation payload", "error", err)
		h.fail(w, e)
		return
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		log.Error("decode invocation payload", "error", fmt.Errorf("%w: %v", errBadPayload, err))
		h.fail(w, e)
		return
	}

	var ok bool
	switch e.spec.Kind {
	case funcjson.KindHTTP:
		ok = h.invokeHTTP(ctx, w, r, e, env, log)
	case funcjson.KindQueue:
		ok = h.invokeQueue(ctx, w, e, env, log)
	case funcjson.KindTimer:
		ok = h.invokeTimer(ctx, w, e, env, log)
	case funcjson.KindDocuments:
		ok = h.invokeDocuments(ctx, w, e, env, log)
	}
	if !ok {
		capture.Spill()
		return
	}
	log.Debug("invocation completed", "duration_ms", time.Since(start).Milliseconds())
}

// forward serves a forwarded (or proxied) HTTP request: the original request,
// passed to the function's handler as-is. Its response goes to the caller
// unchanged, so here a 4xx or 5xx is just the answer.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, e entry) {
	id := r.Header.Get(invocationHeader)
	ctx := trigger.WithInvocation(r.Context(), trigger.Invocation{ID: id, Function: e.spec.Name})
	log := h.logger.With("function", e.spec.Name, "invocation_id", id, "trigger", string(e.spec.Kind))
	r = r.WithContext(ctx)
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	tw := web.Track(w)
	if perr := safeServe(e.fn.HTTP, tw, r); perr != nil {
		log.Error("http function panicked", "error", perr)
		if !tw.Wrote() {
			web.WriteProblem(w, http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged")
		}
		return
	}
	log.Debug("forwarded request completed", "status", statusOr200(tw.Status()))
}

// replyJSON writes v as the payload-mode reply. Content-Type must be
// application/json or the host fails the invocation (reference §0.1).
func replyJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"Outputs":{},"Logs":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// replySuccess completes a queue, timer or change-feed invocation, with the
// invocation's captured log lines.
func replySuccess(ctx context.Context, w http.ResponseWriter) {
	replyJSON(w, http.StatusOK, result{Outputs: map[string]any{}, Logs: logging.CaptureFrom(ctx).Lines()})
}

// replyFailure fails the invocation: the host discards the reply, abandons a
// Service Bus message (redelivery, then dead-letter) and answers an HTTP
// caller with 500.
func replyFailure(w http.ResponseWriter) {
	replyJSON(w, http.StatusInternalServerError, result{Outputs: map[string]any{}, Logs: []string{}})
}

// fail ends an invocation that failed on our side. A queue, timer or
// documents invocation fails for the host to retry; an HTTP invocation answers
// its caller with a problem+json 500 through the output binding, because the
// host would answer a failed invocation with a 500 of its own making, not in
// the shape every other error of the suite has.
func (h *Handler) fail(w http.ResponseWriter, e entry) {
	if e.spec.Kind == funcjson.KindHTTP {
		h.replyHTTP(w, e.spec, problemOutput(http.StatusInternalServerError, "internal", "an internal error occurred; it has been logged"), nil)
		return
	}
	replyFailure(w)
}

// problemOutput is an http output binding carrying a problem document.
func problemOutput(status int, code, detail string) httpOutput {
	return httpOutput{StatusCode: status, Headers: map[string]string{"Content-Type": web.ProblemContentType, "Cache-Control": "no-store"},
		Body: string(web.ProblemDocument(status, code, detail))}
}

// data returns the Data entry of the trigger binding: by exact name, else
// case-insensitively.
func (env envelope) data(name string) (json.RawMessage, bool) {
	if v, ok := env.Data[name]; ok {
		return v, true
	}
	for k, v := range env.Data {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// scalar decodes a Metadata or Data scalar into its text. The host sends .NET
// strings JSON-encoded inside JSON ("\"abc\"" → abc), numbers and booleans as
// strings ("3"), and sometimes plain values; every form is accepted. ok is
// false for an absent or null value.
func scalar(raw json.RawMessage) (s string, ok bool, err error) {
	t := strings.TrimSpace(string(raw))
	if t == "" || t == "null" {
		return "", false, nil
	}
	if !strings.HasPrefix(t, `"`) {
		if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			return "", false, fmt.Errorf("%w: want a scalar, got a JSON object or array", errBadPayload)
		}
		return t, true, nil // a bare number or boolean
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%w: %v", errBadPayload, err)
	}
	return unquote(s), true, nil
}

// unquote undoes the host's second JSON encoding of a string, when present.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var inner string
		if json.Unmarshal([]byte(s), &inner) == nil {
			return inner
		}
	}
	return s
}

// parseTime reads a host timestamp: RFC 3339 (DateTimeOffset), or the
// zone-less form the host gives a .NET DateTime, read as UTC (reference §3.2).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp %q", errBadPayload, s)
	}
	return t, nil
}

// sysUtcNow returns Metadata.sys.UtcNow, if present and valid.
func (env envelope) sysUtcNow() (time.Time, bool) {
	var sys struct{ UtcNow string }
	if raw, ok := env.Metadata["sys"]; !ok || json.Unmarshal(raw, &sys) != nil || sys.UtcNow == "" {
		return time.Time{}, false
	}
	t, err := parseTime(sys.UtcNow)
	return t, err == nil
}

// safeServe runs an HTTP handler and turns a panic into an error.
func safeServe(hd http.Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	hd.ServeHTTP(w, r)
	return nil
}

// safeCall runs a queue or timer function and turns a panic into an error.
func safeCall(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	return f()
}

// logError logs a failed invocation at the right level: panics and our own
// decoding faults are errors, a function's transient error a warning.
func logError(log *slog.Logger, msg string, err error) {
	if errors.Is(err, errBadPayload) || errors.Is(err, errPanic) {
		log.Error(msg, "error", err)
		return
	}
	log.Warn(msg, "error", err)
}

func statusOr200(status int) int {
	if status == 0 {
		return http.StatusOK
	}
	return status
}
