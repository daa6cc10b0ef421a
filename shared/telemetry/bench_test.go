package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// benchTelemetry returns nil (off) or a Telemetry on the SDK, batching spans
// to an exporter that drops them.
func benchTelemetry(b *testing.B, on bool) *Telemetry {
	b.Helper()
	if !on {
		return nil
	}
	t, err := New(sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter())),
		sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkHTTPWrapper is what the wrapper adds to one routed, logged HTTP
// request: off is the bare web.Logged handler (Wrap returns it unchanged).
//
//	go test -run '^$' -bench Wrapper -benchmem ./shared/telemetry/
func BenchmarkHTTPWrapper(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			mux := web.Mux([]web.Route{{Method: "POST", Pattern: "/api/portal/{tenant}/requests",
				Handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }}})
			h := benchTelemetry(b, on).HTTP("portal", web.Logged("portal", slog.New(slog.DiscardHandler), mux))
			req := httptest.NewRequest("POST", "/api/portal/acme/requests", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkQueueWrapper is what the wrapper adds to one queue message
// carrying a traceparent.
func BenchmarkQueueWrapper(b *testing.B) {
	body := []byte(`{"specversion":"1.0","id":"e1","source":"/privops","type":"io.privops.task.run.v1","time":"2030-01-31T02:00:00Z",` +
		`"tenantid":"acme","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","data":{"requestId":"r1","taskId":"t1"}}`)
	m := trigger.Message{ID: "m1", Body: body, DeliveryCount: 1, EnqueuedAt: time.Now(), Queue: "privops-tasks"}
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			fn := benchTelemetry(b, on).Queue("tasks", func(context.Context, trigger.Message) error { return nil })
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = fn(ctx, m)
			}
		})
	}
}
