package lambdahost

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// specs loads testdata/functions: copies of the suite's function.json files
// for the functions below (routes, methods and queue names as in functions/),
// kept apart so that a function added to the suite does not change these
// tests. settings override the default app settings.
func specs(tb testing.TB, settings map[string]string) []funcjson.Spec {
	tb.Helper()
	vals := map[string]string{"DEADLINE_WATCH_SCHEDULE": "0 5 * * * *", "NOTICES_QUEUE": "notices", "TASKS_QUEUE": "tasks"}
	for k, v := range settings {
		vals[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	s, err := funcjson.Load(os.DirFS(filepath.Join("testdata", "functions")), lookup)
	if err != nil {
		tb.Fatalf("load function.json files: %v", err)
	}
	return s
}

// fakes is a registry where every function succeeds with nothing to say;
// tests set the one they exercise.
type fakes struct {
	portal, admin, openapi, callback http.Handler
	notify, tasks                    trigger.QueueFunc
	deadlinewatch                    trigger.TimerFunc
}

func (f fakes) functions() []trigger.Function {
	or := func(h http.Handler) http.Handler {
		if h == nil {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
		}
		return h
	}
	orQ := func(q trigger.QueueFunc) trigger.QueueFunc {
		if q == nil {
			return func(context.Context, trigger.Message) error { return nil }
		}
		return q
	}
	t := f.deadlinewatch
	if t == nil {
		t = func(context.Context, trigger.TimerInfo) error { return nil }
	}
	return []trigger.Function{
		{Name: "portal", HTTP: or(f.portal)},
		{Name: "admin", HTTP: or(f.admin)},
		{Name: "openapi", HTTP: or(f.openapi)},
		{Name: "callback", HTTP: or(f.callback)},
		{Name: "notify", Queue: orQ(f.notify)},
		{Name: "tasks", Queue: orQ(f.tasks)},
		{Name: "deadlinewatch", Timer: t},
	}
}

// newHost builds a host on the repository's specs, logging into the returned
// sink.
func newHost(tb testing.TB, f fakes, settings map[string]string, opts ...Option) (*Host, *logSink) {
	tb.Helper()
	sink := &logSink{}
	logger := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := New(f.functions(), specs(tb, settings), logger, opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return h, sink
}

// event reads a recorded event from testdata.
func event(tb testing.TB, name string) json.RawMessage {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read event: %v", err)
	}
	return b
}

// edited decodes a recorded event into T, applies edit and encodes it again.
func edited[T any](tb testing.TB, name string, edit func(*T)) json.RawMessage {
	tb.Helper()
	var v T
	if err := json.Unmarshal(event(tb, name), &v); err != nil {
		tb.Fatalf("decode %s: %v", name, err)
	}
	if edit != nil {
		edit(&v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("encode %s: %v", name, err)
	}
	return b
}

// invoke calls Invoke and checks the result's type.
func invoke[T any](tb testing.TB, h *Host, raw json.RawMessage) T {
	tb.Helper()
	out, err := h.Invoke(context.Background(), raw)
	if err != nil {
		tb.Fatalf("Invoke: %v", err)
	}
	res, ok := out.(T)
	if !ok {
		tb.Fatalf("Invoke returned %T, want %T", out, res)
	}
	return res
}

// logSink collects JSON log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// line is the part of a log record the tests assert on.
type line struct {
	Level, Msg string
	Attrs      map[string]string
}

// find returns the log lines whose message is msg, with the named attributes
// rendered as strings.
func (s *logSink) find(tb testing.TB, msg string, attrs ...string) []line {
	tb.Helper()
	var out []line
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			tb.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] != msg {
			continue
		}
		got := line{Level: rec["level"].(string), Msg: msg, Attrs: map[string]string{}}
		for _, a := range attrs {
			if v, ok := rec[a]; ok {
				b, _ := json.Marshal(v)
				got.Attrs[a] = strings.Trim(string(b), `"`)
			}
		}
		out = append(out, got)
	}
	return out
}
