package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// recorder is a Telemetry on in-memory providers.
type recorder struct {
	*Telemetry
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
}

var fixedNow = time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

func newRecorder(tb testing.TB) *recorder {
	tb.Helper()
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	t, err := New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), func() time.Time { return fixedNow })
	if err != nil {
		tb.Fatal(err)
	}
	return &recorder{Telemetry: t, spans: spans, metrics: reader}
}

// points returns each data point of the named metric as "attr=value,...: value".
func (r *recorder) points(tb testing.TB, name string) []string {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.metrics.Collect(context.Background(), &rm); err != nil {
		tb.Fatal(err)
	}
	var out []string
	label := func(s attribute.Set) string {
		var kv []string
		for _, a := range s.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.Emit())
		}
		return strings.Join(kv, ",")
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, label(p.Attributes)+": "+itoa(p.Value))
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, label(p.Attributes)+": "+itoa(p.Value))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, label(p.Attributes)+": n="+itoa(int64(p.Count))+" sum="+attribute.Float64Value(p.Sum).Emit())
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func itoa(n int64) string { return attribute.Int64Value(n).Emit() }

// TestOffInstallsNothing: without an endpoint Start returns nil, and a nil
// Telemetry hands every function back unchanged.
func TestOffInstallsNothing(t *testing.T) {
	t.Parallel()
	tel, err := Start(context.Background(), Config{ServiceName: "privops"})
	if err != nil || tel != nil {
		t.Fatalf("Start without endpoint = %v, %v; want nil, nil", tel, err)
	}
	h := &probe{}
	if got := tel.HTTP("portal", h); got != http.Handler(h) {
		t.Error("nil Telemetry wrapped an HTTP handler")
	}
	funcs := []trigger.Function{{Name: "portal", HTTP: h}}
	if got := tel.Wrap(funcs); &got[0] != &funcs[0] {
		t.Error("nil Telemetry copied the registry")
	}
	if tp, ts := tel.TraceContext(context.Background()); tp != "" || ts != "" {
		t.Errorf("nil TraceContext = %q, %q", tp, ts)
	}
	tel.TaskSettled(context.Background(), "acme", privacy.ActionErase, privacy.TaskDone)
	tel.DeadlineCounts(context.Background(), "acme", 1, 2)
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// probe is a comparable handler.
type probe struct{}

func (*probe) ServeHTTP(http.ResponseWriter, *http.Request) {}

// TestHTTPSpanAndCount: one server span named by method and route pattern
// (never the path), continuing an incoming traceparent, and one count by
// function, route and status class.
func TestHTTPSpanAndCount(t *testing.T) {
	t.Parallel()
	r := newRecorder(t)
	mux := web.Mux([]web.Route{{Method: "POST", Pattern: "/api/portal/{tenant}/requests", Handler: func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}}})
	h := r.HTTP("portal", web.Logged("portal", discard(), mux))
	for _, path := range []string{"/api/portal/acme/requests", "/api/portal/globex/requests", "/api/nothing"} {
		req := httptest.NewRequest("POST", path+"?email=ada@example.com", nil)
		req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	ended := r.spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("spans = %d, want 3", len(ended))
	}
	s := ended[0]
	if s.Name() != "POST /api/portal/{tenant}/requests" || s.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span %q parent %s, want the route pattern and the incoming trace", s.Name(), s.Parent().TraceID())
	}
	for _, sp := range ended {
		for _, a := range sp.Attributes() {
			if v := a.Value.Emit(); strings.Contains(v, "acme") || strings.Contains(v, "ada") {
				t.Errorf("span %q attribute %s=%s carries a path or a query", sp.Name(), a.Key, v)
			}
		}
	}
	want := []string{
		"function=portal,http.route=/api/portal/{tenant}/requests,status_class=2xx: 2",
		"function=portal,http.route=portal,status_class=4xx: 1",
	}
	if diff := cmp.Diff(want, r.points(t, "privops.http.requests")); diff != "" {
		t.Errorf("privops.http.requests (-want +got):\n%s", diff)
	}
}

// TestHTTPPanicIsCounted: a handler that panics past the wrapper (nothing
// answered yet) ends its span as an error and is counted as a 5xx before the
// panic goes on to whoever answers it.
func TestHTTPPanicIsCounted(t *testing.T) {
	t.Parallel()
	r := newRecorder(t)
	h := r.HTTP("portal", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the handler's panic passed on", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/portal/acme/requests", nil))
	}()
	ended := r.spans.Ended()
	if len(ended) != 1 || ended[0].Status().Code != codes.Error {
		t.Fatalf("spans %d, want one ended as an error", len(ended))
	}
	want := []string{"function=portal,http.route=portal,status_class=5xx: 1"}
	if diff := cmp.Diff(want, r.points(t, "privops.http.requests")); diff != "" {
		t.Errorf("privops.http.requests (-want +got):\n%s", diff)
	}
}

// TestQueueContinuesTheProducersTrace: a message published inside a span
// carries its traceparent; the consumer span is that span's child; outcomes
// and the lag of first deliveries are counted.
func TestQueueContinuesTheProducersTrace(t *testing.T) {
	t.Parallel()
	r := newRecorder(t)
	ctx, producer := r.tracer.Start(context.Background(), "POST /api/portal/{tenant}/requests")
	tp, _ := r.TraceContext(ctx)
	producer.End()
	if !strings.HasPrefix(tp, "00-"+producer.SpanContext().TraceID().String()+"-"+producer.SpanContext().SpanID().String()) {
		t.Fatalf("traceparent = %q, want the producer span's", tp)
	}
	body := `{"specversion":"1.0","id":"e1","source":"/privops","type":"t","tenantid":"acme","traceparent":"` + tp + `","data":{}}`
	results := []error{nil, trigger.Reject("malformed-event"), errors.New("store unavailable")}
	for i, res := range results {
		fn := r.Queue("tasks", func(ctx context.Context, m trigger.Message) error { return res })
		_ = fn(context.Background(), trigger.Message{ID: "m", Body: []byte(body), Queue: "privops-tasks",
			DeliveryCount: i + 1, EnqueuedAt: fixedNow.Add(-1500 * time.Millisecond)})
	}
	var consumers []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == "process privops-tasks" {
			consumers = append(consumers, s)
		}
	}
	if len(consumers) != 3 {
		t.Fatalf("consumer spans = %d, want 3", len(consumers))
	}
	for _, c := range consumers {
		if c.Parent().SpanID() != producer.SpanContext().SpanID() || c.SpanContext().TraceID() != producer.SpanContext().TraceID() {
			t.Errorf("consumer span parent = %s, want the producer %s", c.Parent().SpanID(), producer.SpanContext().SpanID())
		}
	}
	if consumers[0].Status().Code != codes.Unset || consumers[1].Status().Code != codes.Error {
		t.Errorf("statuses = %v, %v; want unset for completed, error for rejected", consumers[0].Status(), consumers[1].Status())
	}
	wantMessages := []string{
		"function=tasks,messaging.destination.name=privops-tasks,outcome=completed: 1",
		"function=tasks,messaging.destination.name=privops-tasks,outcome=failed: 1",
		"function=tasks,messaging.destination.name=privops-tasks,outcome=rejected: 1",
	}
	if diff := cmp.Diff(wantMessages, r.points(t, "privops.queue.messages")); diff != "" {
		t.Errorf("privops.queue.messages (-want +got):\n%s", diff)
	}
	wantLag := []string{"function=tasks,messaging.destination.name=privops-tasks: n=1 sum=1.5"}
	if diff := cmp.Diff(wantLag, r.points(t, "privops.queue.lag")); diff != "" {
		t.Errorf("privops.queue.lag (-want +got):\n%s", diff)
	}
}

// TestTasksAndDeadlines: the hooks the service and the deadline watch call.
func TestTasksAndDeadlines(t *testing.T) {
	t.Parallel()
	r := newRecorder(t)
	ctx := context.Background()
	r.TaskSettled(ctx, "acme", privacy.ActionErase, privacy.TaskDone)
	r.TaskSettled(ctx, "globex", privacy.ActionErase, privacy.TaskDone)
	r.TaskSettled(ctx, "acme", privacy.ActionExport, privacy.TaskPending)
	r.DeadlineCounts(ctx, "acme", 3, 1)
	r.DeadlineCounts(ctx, "acme", 2, 0) // the latest run wins
	r.DeadlineCounts(ctx, "globex", 0, 4)
	if diff := cmp.Diff([]string{"action=erase,status=done: 2", "action=export,status=pending: 1"},
		r.points(t, "privops.tasks")); diff != "" {
		t.Errorf("privops.tasks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tenant_id=acme: 2", "tenant_id=globex: 0"}, r.points(t, "privops.deadlines.overdue")); diff != "" {
		t.Errorf("privops.deadlines.overdue (-want +got):\n%s", diff)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestLogLinesNameTheirTrace: records logged inside a span carry its
// trace_id and span_id; outside one, neither.
func TestLogLinesNameTheirTrace(t *testing.T) {
	t.Parallel()
	r := newRecorder(t)
	var buf strings.Builder
	log := slog.New(r.LogHandler(slog.NewJSONHandler(&buf, nil))).With("function", "tasks")
	ctx, span := r.tracer.Start(context.Background(), "process privops-tasks")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines = %q", lines)
	}
	sc := span.SpanContext()
	if want := `"trace_id":"` + sc.TraceID().String() + `","span_id":"` + sc.SpanID().String() + `"`; !strings.Contains(lines[0], want) {
		t.Errorf("inside: %s; want %s", lines[0], want)
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("outside: %s; want no trace_id", lines[1])
	}
	var off *Telemetry
	if h := slog.NewJSONHandler(&buf, nil); off.LogHandler(h) != slog.Handler(h) {
		t.Error("nil Telemetry wrapped the log handler")
	}
}
