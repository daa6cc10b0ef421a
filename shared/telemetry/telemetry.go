// Package telemetry is the suite's OpenTelemetry instrumentation: a span per
// invocation of every function (HTTP, queue, timer, change feed), trace
// context carried through queue messages, and a few metrics. It is off by
// default: with no OTLP endpoint configured, Start returns a nil *Telemetry,
// whose wrappers return the function unchanged, so nothing is installed and
// the hot paths pay nothing. When on, spans and metrics are exported over
// OTLP/HTTP (protobuf) to an OpenTelemetry Collector.
//
// What is recorded: function names, route patterns, queue names, status
// classes, outcomes, tenant ids and counts. Never a path, a query, a header,
// a body or anything about a data subject.
//
// Metrics:
//
//	privops.http.requests     counter   function, http.route, status_class (2xx, 4xx, ...)
//	privops.queue.messages    counter   function, messaging.destination.name, outcome (completed, rejected, failed)
//	privops.queue.lag         histogram seconds from enqueue to receipt, first deliveries only;
//	                                    function, messaging.destination.name
//	privops.tasks             counter   action, status (done, no-data, held, waiting, pending = retry scheduled, failed)
//	privops.deadlines.overdue gauge     open requests past their deadline, per tenant_id, each deadline watch run
//	privops.deadlines.due_soon gauge    open requests due within the warning window, per tenant_id
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/privops/privops/shared/privacy"
)

// scope is the instrumentation scope of every span and instrument.
const scope = "github.com/privops/privops"

// Config says whether and where to export.
type Config struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT, the collector's OTLP/HTTP base
	// URL (e.g. http://127.0.0.1:4318). Empty: telemetry is off.
	Endpoint string
	// ServiceName is the service.name resource attribute (OTEL_SERVICE_NAME).
	ServiceName string
}

// Telemetry instruments functions. A nil *Telemetry is valid and off: every
// method returns what it was given or does nothing.
type Telemetry struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	now    func() time.Time

	requests metric.Int64Counter
	messages metric.Int64Counter
	lag      metric.Float64Histogram
	tasks    metric.Int64Counter
	overdue  metric.Int64Gauge
	dueSoon  metric.Int64Gauge

	shutdown []func(context.Context) error
}

// Start builds the OTLP/HTTP exporters and the SDK providers when
// cfg.Endpoint is set, and returns nil (off) otherwise. The exporters read the
// other standard variables (OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_TIMEOUT, the per-signal endpoints, ...; otlphttp.go), the tracer
// provider OTEL_TRACES_SAMPLER, the metric reader OTEL_METRIC_EXPORT_INTERVAL,
// the resource OTEL_RESOURCE_ATTRIBUTES. No global provider is installed:
// only the suite's own wrappers emit. Call Shutdown to flush at exit.
func Start(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	name := cfg.ServiceName
	if name == "" {
		name = "privops"
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", name)), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	spans, points, err := exporters(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spans), sdktrace.WithResource(res))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(points)), sdkmetric.WithResource(res))
	t, err := New(tp, mp, time.Now)
	if err != nil {
		return nil, err
	}
	t.shutdown = []func(context.Context) error{tp.Shutdown, mp.Shutdown}
	return t, nil
}

// New instruments with the given providers (tests pass in-memory ones).
func New(tp trace.TracerProvider, mp metric.MeterProvider, now func() time.Time) (*Telemetry, error) {
	m := mp.Meter(scope)
	t := &Telemetry{tracer: tp.Tracer(scope), prop: propagation.TraceContext{}, now: now}
	var errs [6]error
	t.requests, errs[0] = m.Int64Counter("privops.http.requests", metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests served, by function, route pattern and status class"))
	t.messages, errs[1] = m.Int64Counter("privops.queue.messages", metric.WithUnit("{message}"),
		metric.WithDescription("queue messages handled, by function, queue and outcome"))
	t.lag, errs[2] = m.Float64Histogram("privops.queue.lag", metric.WithUnit("s"),
		metric.WithDescription("time from enqueue to receipt of a message's first delivery"),
		metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600))
	t.tasks, errs[3] = m.Int64Counter("privops.tasks", metric.WithUnit("{task}"),
		metric.WithDescription("task results recorded, by action and resulting status"))
	t.overdue, errs[4] = m.Int64Gauge("privops.deadlines.overdue", metric.WithUnit("{request}"),
		metric.WithDescription("open requests past their deadline, per tenant, at the last deadline watch"))
	t.dueSoon, errs[5] = m.Int64Gauge("privops.deadlines.due_soon", metric.WithUnit("{request}"),
		metric.WithDescription("open requests due within the warning window, per tenant, at the last deadline watch"))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("telemetry instruments: %w", err)
	}
	return t, nil
}

// Shutdown flushes and stops the exporters. Nil-safe.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// TraceContext returns the W3C traceparent and tracestate of the span in ctx,
// "" when there is none: what a published message carries (dsr.Deps).
func (t *Telemetry) TraceContext(ctx context.Context) (traceparent, tracestate string) {
	if t == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return "", ""
	}
	c := propagation.MapCarrier{}
	t.prop.Inject(ctx, c)
	return c["traceparent"], c["tracestate"]
}

// TaskSettled counts one recorded task result (dsr.Deps.TaskSettled).
func (t *Telemetry) TaskSettled(ctx context.Context, _ string, action privacy.Action, status privacy.TaskStatus) {
	if t == nil {
		return
	}
	t.tasks.Add(ctx, 1, metric.WithAttributes(attribute.String("action", string(action)), attribute.String("status", string(status))))
}

// DeadlineCounts records a tenant's overdue and due-soon counts
// (deadlinewatch.Deps.Counts).
func (t *Telemetry) DeadlineCounts(ctx context.Context, tenantID string, overdue, dueSoon int) {
	if t == nil {
		return
	}
	attrs := metric.WithAttributes(attribute.String("tenant_id", tenantID))
	t.overdue.Record(ctx, int64(overdue), attrs)
	t.dueSoon.Record(ctx, int64(dueSoon), attrs)
}
