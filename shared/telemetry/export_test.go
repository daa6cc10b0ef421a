//go:build !privops_nootlp

package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestStartExportsOverOTLPHTTP: with an endpoint, Start exports spans and
// metrics as OTLP/HTTP protobuf to <endpoint>/v1/traces and /v1/metrics; a
// loopback collector receives both at Shutdown.
func TestStartExportsOverOTLPHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL) // the exporters read it, as in production

	tel, err := Start(context.Background(), Config{Endpoint: collector.URL, ServiceName: "privops-test"})
	if err != nil || tel == nil {
		t.Fatalf("Start = %v, %v; want telemetry on", tel, err)
	}
	h := tel.HTTP("openapi", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/openapi.json", nil))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	want := []string{"POST /v1/metrics application/x-protobuf", "POST /v1/traces application/x-protobuf"}
	if !slices.Equal(slices.Compact(got), want) {
		t.Errorf("collector received %q, want %q", got, want)
	}
}
