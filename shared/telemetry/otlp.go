//go:build !privops_nootlp

package telemetry

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// exporters builds the OTLP/HTTP (protobuf) exporters from the standard
// variables (otlphttp.go). No network call: they connect on their first
// export. Spans go through the SDK's own otlptrace exporter, which turns
// them into OTLP; our client only posts them. Build with -tags
// privops_nootlp for a binary without any exporter (see nootlp.go).
func exporters(ctx context.Context) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
	tc, err := newOTLPClient("traces", os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("trace exporter: %w", err)
	}
	spans, err := otlptrace.New(ctx, traceClient{tc})
	if err != nil {
		return nil, nil, fmt.Errorf("trace exporter: %w", err)
	}
	mc, err := newOTLPClient("metrics", os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("metric exporter: %w", err)
	}
	points, err := newMetricExporter(mc, os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("metric exporter: %w", err)
	}
	return spans, points, nil
}

// traceClient is the otlptrace.Client of otlpClient.
type traceClient struct{ c *otlpClient }

func (traceClient) Start(context.Context) error { return nil }

func (t traceClient) Stop(context.Context) error {
	t.c.http.CloseIdleConnections()
	return nil
}

func (t traceClient) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
	if len(spans) == 0 {
		return nil
	}
	body, err := exportRequest(spans)
	if err != nil {
		return err
	}
	return t.c.export(ctx, body)
}
