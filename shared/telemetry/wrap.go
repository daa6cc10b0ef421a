package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// HTTP wraps an HTTP function: a server span named "<method> <route
// pattern>" and one count in privops.http.requests. An incoming W3C
// traceparent header is continued. It wraps web.Logged (or any handler): the
// route pattern is the one web.Mux matched, else the function name. Nil: next
// unchanged.
func (t *Telemetry) HTTP(function string, next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, matched := web.RecordRoute(r.Context())
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("privops.function", function), attribute.String("http.request.method", r.Method)))
		tw, ok := w.(*web.ResponseTracker)
		if !ok {
			tw = web.Track(w)
		}
		defer func() {
			p := recover()
			status := tw.Status()
			switch {
			case status == 0 && p != nil:
				status = http.StatusInternalServerError // what web.Logged answers
			case status == 0:
				status = http.StatusOK
			}
			route := matched.Pattern
			if i := strings.IndexByte(route, ' '); i >= 0 {
				route = route[i+1:] // "POST /api/…": the method is an attribute of its own
			}
			if route == "" {
				route = function // not routed by web.Mux: the function is the route
			}
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, "")
			}
			// Counted before the span ends: whoever sees the span ended
			// also finds the request counted.
			t.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("function", function),
				attribute.String("http.route", route), attribute.String("status_class", strconv.Itoa(status/100)+"xx")))
			if p != nil {
				span.SetStatus(codes.Error, "panic")
			}
			span.End()
			if p != nil {
				panic(p) // web.Logged answers it
			}
		}()
		next.ServeHTTP(tw, r.WithContext(ctx))
	})
}

// traceFields are the CloudEvents distributed-tracing extension attributes of
// a message body.
type traceFields struct {
	TraceParent string `json:"traceparent"`
	TraceState  string `json:"tracestate"`
}

// Queue wraps a queue function: a consumer span whose parent is the
// producer's span (the traceparent of the message's CloudEvents envelope), one
// count in privops.queue.messages by outcome, and the queue lag of a first
// delivery. Nil: fn unchanged.
func (t *Telemetry) Queue(function string, fn trigger.QueueFunc) trigger.QueueFunc {
	if t == nil {
		return fn
	}
	return func(ctx context.Context, m trigger.Message) error {
		var tf traceFields
		if json.Unmarshal(m.Body, &tf) == nil && tf.TraceParent != "" {
			ctx = t.prop.Extract(ctx, propagation.MapCarrier{"traceparent": tf.TraceParent, "tracestate": tf.TraceState})
		}
		queue := attribute.String("messaging.destination.name", m.Queue)
		ctx, span := t.tracer.Start(ctx, "process "+m.Queue, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("privops.function", function), queue,
				attribute.String("messaging.operation.type", "process"), attribute.String("messaging.message.id", m.ID),
				attribute.Int("messaging.message.delivery_count", m.DeliveryCount)))
		attrs := []attribute.KeyValue{attribute.String("function", function), queue}
		if m.DeliveryCount <= 1 && !m.EnqueuedAt.IsZero() {
			t.lag.Record(ctx, max(t.now().Sub(m.EnqueuedAt).Seconds(), 0), metric.WithAttributes(attrs...))
		}
		outcome := "failed"
		defer func() {
			if p := recover(); p != nil {
				span.SetStatus(codes.Error, "panic")
				t.count(ctx, span, attrs, outcome)
				panic(p) // the host adapter recovers and redelivers
			}
			t.count(ctx, span, attrs, outcome)
		}()
		err := fn(ctx, m)
		var rej *trigger.Rejection
		switch {
		case err == nil:
			outcome = "completed"
		case errors.As(err, &rej):
			outcome = "rejected"
			span.SetStatus(codes.Error, "rejected: "+rej.Reason)
		default:
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}

// count records the message's outcome, then ends its span: whoever sees the
// span ended (an exporter, a test) also finds the message counted.
func (t *Telemetry) count(ctx context.Context, span trace.Span, attrs []attribute.KeyValue, outcome string) {
	span.SetAttributes(attribute.String("privops.outcome", outcome))
	t.messages.Add(ctx, 1, metric.WithAttributes(append(attrs, attribute.String("outcome", outcome))...))
	span.End()
}

// Timer wraps a timer function in a span, the parent of whatever it
// publishes (the deadline watch's re-driven messages). Nil: fn unchanged.
func (t *Telemetry) Timer(function string, fn trigger.TimerFunc) trigger.TimerFunc {
	if t == nil {
		return fn
	}
	return func(ctx context.Context, ti trigger.TimerInfo) error {
		ctx, span := t.tracer.Start(ctx, "timer "+function, trace.WithAttributes(
			attribute.String("privops.function", function), attribute.Bool("privops.past_due", ti.IsPastDue)))
		defer span.End()
		err := fn(ctx, ti)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}

// Documents wraps a change-feed function in a span. Nil: fn unchanged.
func (t *Telemetry) Documents(function string, fn trigger.DocumentsFunc) trigger.DocumentsFunc {
	if t == nil {
		return fn
	}
	return func(ctx context.Context, docs []json.RawMessage) error {
		ctx, span := t.tracer.Start(ctx, "changefeed "+function, trace.WithAttributes(
			attribute.String("privops.function", function), attribute.Int("privops.documents", len(docs))))
		defer span.End()
		err := fn(ctx, docs)
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}

// Wrap instruments every function of a registry (nil: funcs unchanged).
func (t *Telemetry) Wrap(funcs []trigger.Function) []trigger.Function {
	if t == nil {
		return funcs
	}
	out := make([]trigger.Function, len(funcs))
	for i, f := range funcs {
		switch {
		case f.HTTP != nil:
			f.HTTP = t.HTTP(f.Name, f.HTTP)
		case f.Queue != nil:
			f.Queue = t.Queue(f.Name, f.Queue)
		case f.Timer != nil:
			f.Timer = t.Timer(f.Name, f.Timer)
		case f.Documents != nil:
			f.Documents = t.Documents(f.Name, f.Documents)
		}
		out[i] = f
	}
	return out
}
