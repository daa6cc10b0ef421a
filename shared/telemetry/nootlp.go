//go:build privops_nootlp

package telemetry

import (
	"context"
	"errors"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exporters refuses: this binary was built without the OTLP exporters, so a
// configured endpoint is a misconfiguration, reported at start.
func exporters(context.Context) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
	return nil, nil, errors.New("this binary was built with -tags privops_nootlp, without the OTLP exporters: unset it or use a full build")
}
