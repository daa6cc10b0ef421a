//go:build !privops_nootlp

package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exporters builds the OTLP/HTTP (protobuf) exporters. No network call: they
// connect on their first export. They link most of the gRPC runtime (about
// 6 MB) through go.opentelemetry.io/proto/otlp's collector packages
// (open-telemetry/opentelemetry-go#2579); build with -tags privops_nootlp for
// a binary without them (see nootlp.go).
func exporters(ctx context.Context) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
	spans, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("trace exporter: %w", err)
	}
	points, err := otlpmetrichttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("metric exporter: %w", err)
	}
	return spans, points, nil
}
