//go:build privops_nootlp

package telemetry

import (
	"context"
	"strings"
	"testing"
)

// TestStartRefusesWithoutOTLP: a binary built without the exporters stops at
// start when an endpoint is configured, naming the setting, and is off (nil)
// without one.
func TestStartRefusesWithoutOTLP(t *testing.T) {
	tel, err := Start(context.Background(), Config{Endpoint: "http://127.0.0.1:4318"})
	if tel != nil || err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT") {
		t.Errorf("Start with an endpoint = %v, %v; want an error naming OTEL_EXPORTER_OTLP_ENDPOINT", tel, err)
	}
	if tel, err := Start(context.Background(), Config{}); tel != nil || err != nil {
		t.Errorf("Start without an endpoint = %v, %v; want nil, nil", tel, err)
	}
}
