//go:build !privops_nootlp

package telemetry

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/testing/protocmp"
)

// captured is an otlptrace.Client that keeps what the SDK's exporter hands it.
type captured struct{ got *[]*tracepb.ResourceSpans }

func (captured) Start(context.Context) error { return nil }
func (captured) Stop(context.Context) error  { return nil }
func (c captured) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	*c.got = append(*c.got, rs...)
	return nil
}

// TestSpansToOTLP: our encoding of spans, decoded by the official packages,
// is what the SDK's own otlptrace exporter makes of the same spans. They are of
// every kind, under two resources and three scopes, with attributes of every
// type and their zero values, events, links, both status codes, a local and
// a remote parent, trace state, and counts of what the limits dropped.
func TestSpansToOTLP(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	limits := sdktrace.NewSpanLimits()
	limits.AttributeCountLimit, limits.EventCountLimit, limits.LinkCountLimit = 15, 2, 1
	limits.AttributePerEventCountLimit, limits.AttributePerLinkCountLimit = 1, 1
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithRawSpanLimits(limits),
		sdktrace.WithResource(resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
			attribute.String("service.name", "privops"), attribute.Int("n", 1))))
	other := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "other"))))

	a := tp.Tracer("github.com/privops/privops/a", trace.WithInstrumentationVersion("1.2"),
		trace.WithInstrumentationAttributes(attribute.Bool("scoped", true)), trace.WithSchemaURL("https://example.com/s"))
	b := tp.Tracer("github.com/privops/privops/b")
	ts, err := trace.ParseTraceState("vendor=x,other=y")
	if err != nil {
		t.Fatal(err)
	}
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6},
		TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true})

	ctx, root := a.Start(context.Background(), "root", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.Bool("t", true), attribute.Bool("f", false), attribute.Int("i0", 0), attribute.Int64("i", -7),
			attribute.Float64("d0", 0), attribute.Float64("d", 2.5), attribute.String("s0", ""), attribute.String("s", "x"),
			attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, -1}),
			attribute.Float64Slice("ds", []float64{0.5}), attribute.StringSlice("ss", []string{"a", ""}),
			attribute.ByteSlice("b", []byte{0, 1}), attribute.Slice("mixed", attribute.IntValue(1), attribute.StringValue("two")),
			attribute.Map("m", attribute.String("k", "v"), attribute.Int("z", 0)),
			attribute.String("over the limit", "dropped")),
		trace.WithLinks(
			trace.Link{SpanContext: remote}, // the oldest link goes over the limit
			trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("l", "1"), attribute.String("dropped", "2")}}))
	root.AddEvent("the oldest event goes over the limit")
	root.AddEvent("e2")
	root.AddEvent("e1", trace.WithAttributes(attribute.Int("a", 1), attribute.Int("b", 2)))
	root.SetStatus(codes.Error, "failed")
	_, child := b.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindClient))
	child.SetStatus(codes.Ok, "")
	child.End()
	_, consumer := a.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "consumer",
		trace.WithSpanKind(trace.SpanKindConsumer))
	consumer.End()
	_, producer := b.Start(ctx, "producer", trace.WithSpanKind(trace.SpanKindProducer))
	producer.End()
	_, internal := a.Start(ctx, "internal")
	internal.End()
	root.End()
	_, elsewhere := other.Tracer("").Start(context.Background(), "elsewhere")
	elsewhere.End()

	spans := rec.Ended()
	var want []*tracepb.ResourceSpans
	exp, err := otlptrace.New(context.Background(), captured{&want})
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	got := resources(t, traceRequest(spans), func() *tracepb.ResourceSpans { return &tracepb.ResourceSpans{} })
	// The SDK orders resources as a map iterates; ours keep the spans' order.
	// (protocmp.SortRepeated sorts repeated fields inside messages, not this
	// top-level slice, so the order is compared as a set here.)
	byService := func(x, y *tracepb.ResourceSpans) int {
		return strings.Compare(attrs(x.GetResource().GetAttributes())["service.name"], attrs(y.GetResource().GetAttributes())["service.name"])
	}
	slices.SortFunc(want, byService)
	sorted := slices.SortedFunc(slices.Values(got), byService)
	if d := cmp.Diff(want, sorted, protocmp.Transform()); d != "" {
		t.Errorf("OTLP spans (-SDK's otlptrace +ours):\n%s", d)
	}
	// The comparison covers what the spans hold: two resources, the first
	// with both scopes, and a root span that went over every limit.
	if len(got) != 2 || len(got[0].ScopeSpans) != 2 {
		t.Fatalf("%d resources, want 2, the first with 2 scopes", len(got))
	}
	var r *tracepb.Span
	for _, ss := range got[0].ScopeSpans {
		for _, s := range ss.Spans {
			if s.Name == "root" {
				r = s
			}
		}
	}
	if r == nil || r.DroppedAttributesCount != 1 || len(r.Attributes) != 15 || len(r.Events) != 2 || r.DroppedEventsCount != 1 ||
		r.Events[1].DroppedAttributesCount != 1 || len(r.Links) != 1 || r.DroppedLinksCount != 1 || r.Links[0].DroppedAttributesCount != 1 ||
		r.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("root span = %v, want one over every limit, with an error status", r)
	}
	if n := len(traceRequest(nil)); n != 0 {
		t.Errorf("no spans: %d bytes, want none", n)
	}
}
