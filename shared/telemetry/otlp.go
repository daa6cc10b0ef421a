//go:build !privops_nootlp

package telemetry

import (
	"context"
	"fmt"
	"os"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exporters builds the OTLP/HTTP (protobuf) exporters from the standard
// variables (otlphttp.go). No network call: they connect on their first
// export. Both encode OTLP themselves (otlpwire.go), so that the binary
// links no protobuf runtime. Build with -tags
// privops_nootlp for a binary without any exporter (see nootlp.go).
func exporters(ctx context.Context) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
	tc, err := newOTLPClient("traces", os.Getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("trace exporter: %w", err)
	}
	spans := &spanExporter{client: tc}
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
