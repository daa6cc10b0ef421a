package azfunc

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// specs loads the repository's own function.json files, so the tests follow
// the real routes, binding names and data types.
func specs(tb testing.TB) []funcjson.Spec {
	tb.Helper()
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"DEADLINE_WATCH_SCHEDULE": "0 5 * * * *", "NOTICES_QUEUE": "notices", "TASKS_QUEUE": "tasks", "COSMOS_DATABASE": "privops", "INBOUND_QUEUE": "inbound",
			"RETENTION_SCHEDULE": "0 0 2 * * *", "RETENTION_QUEUE": "retention",
			"BREACH_SEND_QUEUE": "breachsend"}[k]
		return v, ok
	}
	s, err := funcjson.Load(os.DirFS("../../functions"), lookup)
	if err != nil {
		tb.Fatalf("load function.json files: %v", err)
	}
	return s
}

// fakes returns a registry where every function succeeds with nothing to say;
// tests replace the one they exercise.
type fakes struct {
	portal, admin, openapi http.Handler
	notify                 trigger.QueueFunc
	deadlinewatch          trigger.TimerFunc
	outbox                 trigger.DocumentsFunc
}

func (f fakes) functions() []trigger.Function {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	or := func(h http.Handler) http.Handler {
		if h == nil {
			return ok
		}
		return h
	}
	q := f.notify
	if q == nil {
		q = func(ctx context.Context, m trigger.Message) error { return nil }
	}
	t := f.deadlinewatch
	if t == nil {
		t = func(ctx context.Context, ti trigger.TimerInfo) error { return nil }
	}
	docs := f.outbox
	if docs == nil {
		docs = func(context.Context, []json.RawMessage) error { return nil }
	}
	return []trigger.Function{
		{Name: "outbox", Documents: docs},
		{Name: "portal", HTTP: or(f.portal)},
		{Name: "admin", HTTP: or(f.admin)},
		{Name: "openapi", HTTP: or(f.openapi)},
		{Name: "operator", HTTP: ok},
		{Name: "notify", Queue: q},
		{Name: "tasks", Queue: func(context.Context, trigger.Message) error { return nil }},
		{Name: "inbound", Queue: func(context.Context, trigger.Message) error { return nil }},
		{Name: "callback", HTTP: ok},
		{Name: "certificates", HTTP: ok},
		{Name: "deadlinewatch", Timer: t},
		{Name: "retention", Timer: func(context.Context, trigger.TimerInfo) error { return nil }},
		{Name: "retentionjob", Queue: func(context.Context, trigger.Message) error { return nil }},
		{Name: "breachsend", Queue: func(context.Context, trigger.Message) error { return nil }},
		{Name: "notice", HTTP: ok},
		{Name: "breachack", HTTP: ok},
		{Name: "center", HTTP: ok},
		{Name: "console", HTTP: ok},
	}
}

func newHandler(tb testing.TB, f fakes, opts ...Option) *Handler {
	tb.Helper()
	h, err := New(f.functions(), specs(tb), nil, opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h
}

// payload reads a recorded host payload from testdata.
func payload(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read payload: %v", err)
	}
	return b
}

// invoke sends a payload-mode request as the host does.
func invoke(tb testing.TB, h http.Handler, function string, body []byte, invocationID string) *httptest.ResponseRecorder {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:41234/"+function, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("User-Agent", "Azure-Functions-Host/4.1036.1.23224")
	r.Header.Set("X-Azure-Functions-HostVersion", "4.1036.1.23224")
	r.Header.Set(invocationHeader, invocationID)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// reply is the decoded payload-mode reply, with the http output typed.
type reply struct {
	Outputs     map[string]json.RawMessage
	Logs        []string
	ReturnValue json.RawMessage
}

// decodeReply checks the reply is application/json and decodes it.
func decodeReply(tb testing.TB, w *httptest.ResponseRecorder) reply {
	tb.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("reply Content-Type = %q, want application/json", ct)
	}
	var r reply
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		tb.Fatalf("decode reply %q: %v", w.Body.String(), err)
	}
	return r
}

// httpOut decodes Outputs.res.
func httpOut(tb testing.TB, r reply) httpOutput {
	tb.Helper()
	var out httpOutput
	raw, ok := r.Outputs["res"]
	if !ok {
		tb.Fatalf("reply has no Outputs.res: %+v", r)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		tb.Fatalf("decode Outputs.res: %v", err)
	}
	return out
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
