//go:build !privops_nootlp

package telemetry

import (
	"context"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanExporter is an sdktrace.SpanExporter over otlpClient: spans in OTLP
// protobuf (opentelemetry/proto/trace/v1), as the SDK's otlptrace exporter
// converts them, which the tests check field by field.
type spanExporter struct {
	client  *otlpClient
	mu      sync.Mutex
	stopped bool
}

func (e *spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	stopped := e.stopped
	e.mu.Unlock()
	if stopped {
		return nil
	}
	body := traceRequest(spans)
	if len(body) == 0 {
		return nil
	}
	if err := e.client.export(ctx, body); err != nil {
		return fmt.Errorf("traces export: %w", err)
	}
	return nil
}

func (e *spanExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.stopped = true
	e.mu.Unlock()
	e.client.http.CloseIdleConnections()
	return ctx.Err()
}

// traceRequest encodes an ExportTraceServiceRequest (resource_spans 1) of
// spans: one ResourceSpans per resource, in the order the spans name them,
// and in each one ScopeSpans per instrumentation scope.
func traceRequest(spans []sdktrace.ReadOnlySpan) []byte {
	type scoped struct {
		scope instrumentation.Scope
		spans []sdktrace.ReadOnlySpan
	}
	type resourced struct {
		res    *resource.Resource
		scopes []*scoped
	}
	var order []*resourced
	byResource := map[attribute.Distinct]*resourced{}
	type scopeKey struct {
		res   attribute.Distinct
		scope instrumentation.Scope
	}
	byScope := map[scopeKey]*scoped{}
	for _, s := range spans {
		if s == nil {
			continue
		}
		rk := s.Resource().Equivalent()
		r := byResource[rk]
		if r == nil {
			r = &resourced{res: s.Resource()}
			byResource[rk] = r
			order = append(order, r)
		}
		sk := scopeKey{rk, s.InstrumentationScope()}
		sc := byScope[sk]
		if sc == nil {
			sc = &scoped{scope: sk.scope}
			byScope[sk] = sc
			r.scopes = append(r.scopes, sc)
		}
		sc.spans = append(sc.spans, s)
	}
	var p pbuf
	for _, r := range order {
		// ResourceSpans: resource 1, scope_spans 2, schema_url 3.
		p.message(1, func() {
			p.resource(1, r.res)
			for _, sc := range r.scopes {
				// ScopeSpans: scope 1, spans 2, schema_url 3.
				p.message(2, func() {
					p.scope(1, sc.scope)
					for _, s := range sc.spans {
						p.span(2, s)
					}
					p.str(3, sc.scope.SchemaURL)
				})
			}
			if r.res != nil {
				p.str(3, r.res.SchemaURL())
			}
		})
	}
	return p.b
}

// span writes a Span: trace_id 1, span_id 2, trace_state 3, parent_span_id 4,
// name 5, kind 6, start 7, end 8, attributes 9, dropped_attributes_count 10,
// events 11, dropped_events_count 12, links 13, dropped_links_count 14,
// status 15 (message 2, code 3), flags 16.
func (p *pbuf) span(field int, s sdktrace.ReadOnlySpan) {
	p.message(field, func() {
		sc := s.SpanContext()
		tid, sid := sc.TraceID(), sc.SpanID()
		p.bytes(1, tid[:])
		p.bytes(2, sid[:])
		p.str(3, sc.TraceState().String())
		parent := s.Parent()
		if psid := parent.SpanID(); psid.IsValid() {
			p.bytes(4, psid[:])
		}
		p.str(5, s.Name())
		p.uvarint(6, spanKind(s.SpanKind()))
		p.fixed64(7, nanos(s.StartTime()))
		p.fixed64(8, nanos(s.EndTime()))
		p.keyValues(9, s.Attributes())
		p.uvarint(10, count(s.DroppedAttributes()))
		for _, ev := range s.Events() {
			// Event: time 1, name 2, attributes 3, dropped_attributes_count 4.
			p.message(11, func() {
				p.fixed64(1, nanos(ev.Time))
				p.str(2, ev.Name)
				p.keyValues(3, ev.Attributes)
				p.uvarint(4, count(ev.DroppedAttributeCount))
			})
		}
		p.uvarint(12, count(s.DroppedEvents()))
		for _, l := range s.Links() {
			// Link: trace_id 1, span_id 2, attributes 4,
			// dropped_attributes_count 5, flags 6.
			p.message(13, func() {
				tid, sid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
				p.bytes(1, tid[:])
				p.bytes(2, sid[:])
				p.keyValues(4, l.Attributes)
				p.uvarint(5, count(l.DroppedAttributeCount))
				p.fixed32(6, spanFlags(l.SpanContext.TraceFlags(), l.SpanContext))
			})
		}
		p.uvarint(14, count(s.DroppedLinks()))
		st := s.Status()
		p.message(15, func() {
			p.str(2, st.Description)
			p.uvarint(3, statusCode(st.Code))
		})
		p.fixed32(16, spanFlags(sc.TraceFlags(), parent))
	})
}

// spanKind is the OTLP SpanKind: unspecified 0, internal 1, server 2,
// client 3, producer 4, consumer 5.
func spanKind(k trace.SpanKind) uint64 {
	switch k {
	case trace.SpanKindInternal:
		return 1
	case trace.SpanKindServer:
		return 2
	case trace.SpanKindClient:
		return 3
	case trace.SpanKindProducer:
		return 4
	case trace.SpanKindConsumer:
		return 5
	}
	return 0
}

// statusCode is the OTLP StatusCode: unset 0, ok 1, error 2 (the API's
// codes number Error 1 and Ok 2).
func statusCode(c codes.Code) uint64 {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

// spanFlags are the W3C trace flags in the low byte, with "whether the parent
// is remote is known" (0x100) and "the parent is remote" (0x200).
func spanFlags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | 0x100
	if parent.IsRemote() {
		f |= 0x200
	}
	return f
}

// count clamps a dropped count to a uint32.
func count(n int) uint64 { return uint64(min(max(n, 0), math.MaxUint32)) }
