//go:build !privops_nootlp

package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// collector is a loopback OTLP/HTTP receiver that keeps every request.
type collector struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
	// answer, when set, picks the status of the n-th request (from 0).
	answer func(n int, w http.ResponseWriter) int
}

type received struct {
	path, contentType, encoding, auth string
	body                              []byte // decompressed
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Errorf("gzip body: %v", err)
				return
			}
			body, _ = io.ReadAll(zr)
		}
		c.mu.Lock()
		n := len(c.reqs)
		c.reqs = append(c.reqs, received{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), r.Header.Get("Authorization"), body})
		answer := c.answer
		c.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			status = answer(n, w)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(status)
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) received() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reqs)
}

// resources decodes an Export*ServiceRequest: field 1, repeated, each a
// resource message of type M.
func resources[M proto.Message](t *testing.T, body []byte, newM func() M) []M {
	t.Helper()
	var out []M
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("export request: field %d type %d, want field 1 bytes", num, typ)
		}
		body = body[n:]
		v, n := protowire.ConsumeBytes(body)
		if n < 0 {
			t.Fatal("export request: truncated")
		}
		body = body[n:]
		m := newM()
		if err := proto.Unmarshal(v, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		}
	}
	return m
}

// TestStartExportsOverOTLPHTTP: with an endpoint, Start exports spans and
// metrics as OTLP/HTTP protobuf to <endpoint>/v1/traces and /v1/metrics,
// with the headers of OTEL_EXPORTER_OTLP_HEADERS; a loopback collector
// receives, at Shutdown, the span of a request and its count, both under
// the service's resource.
func TestStartExportsOverOTLPHTTP(t *testing.T) {
	col := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL) // the exporters read it, as in production
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20collector-key")

	tel, err := Start(context.Background(), Config{Endpoint: col.URL, ServiceName: "privops-test"})
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
	var spans []string
	var counts []string
	for _, r := range col.received() {
		if r.contentType != "application/x-protobuf" || r.auth != "Bearer collector-key" {
			t.Errorf("%s: content type %q, authorization %q", r.path, r.contentType, r.auth)
		}
		switch r.path {
		case "/v1/traces":
			for _, rs := range resources(t, r.body, func() *tracepb.ResourceSpans { return &tracepb.ResourceSpans{} }) {
				svc := attrs(rs.Resource.Attributes)["service.name"]
				for _, ss := range rs.ScopeSpans {
					for _, s := range ss.Spans {
						spans = append(spans, svc+" "+ss.Scope.Name+" "+s.Name+" "+s.Kind.String()+" "+attrs(s.Attributes)["privops.function"])
						if len(s.TraceId) != 16 || len(s.SpanId) != 8 || s.EndTimeUnixNano < s.StartTimeUnixNano {
							t.Errorf("span %q: trace id %x, span id %x, %d..%d", s.Name, s.TraceId, s.SpanId, s.StartTimeUnixNano, s.EndTimeUnixNano)
						}
					}
				}
			}
		case "/v1/metrics":
			for _, rm := range resources(t, r.body, func() *metricspb.ResourceMetrics { return &metricspb.ResourceMetrics{} }) {
				svc := attrs(rm.Resource.Attributes)["service.name"]
				for _, sm := range rm.ScopeMetrics {
					for _, m := range sm.Metrics {
						sum := m.GetSum()
						if m.Name != "privops.http.requests" || sum == nil {
							continue
						}
						for _, p := range sum.DataPoints {
							a := attrs(p.Attributes)
							counts = append(counts, svc+" "+m.Name+" "+a["function"]+" "+a["status_class"]+" "+
								sum.AggregationTemporality.String()+" "+strings.Repeat("+", int(p.GetAsInt())))
						}
					}
				}
			}
		default:
			t.Errorf("request to %s", r.path)
		}
	}
	if d := cmp.Diff([]string{"privops-test github.com/privops/privops GET openapi SPAN_KIND_SERVER openapi"}, spans); d != "" {
		t.Errorf("spans (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"privops-test privops.http.requests openapi 2xx AGGREGATION_TEMPORALITY_CUMULATIVE +"}, counts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
}

// TestOTLPClientSettings: the standard variables, as the SDK's exporters
// read them; a malformed one is refused at start without its value, which
// may be a key.
func TestOTLPClientSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		url     string
		headers http.Header
		timeout time.Duration
		gzip    bool
		err     string
	}{
		{name: "base endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/"},
			url: "http://otel:4318/v1/traces", headers: http.Header{}, timeout: 10 * time.Second},
		{name: "signal endpoint used as is", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/ingest"},
			url: "https://traces.example/ingest", headers: http.Header{}, timeout: 10 * time.Second},
		{name: "headers, timeout, gzip", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
			"OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%3Db, x-tenant = ops", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
			"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"},
			url: "http://otel:4318/v1/traces", headers: http.Header{"Api-Key": {"a=b"}, "X-Tenant": {"ops"}}, timeout: 2500 * time.Millisecond, gzip: true},
		{name: "signal headers win", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
			"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "b=2"},
			url: "http://otel:4318/v1/traces", headers: http.Header{"B": {"2"}}, timeout: 10 * time.Second},
		{name: "no endpoint", env: map[string]string{}, err: "no OTLP endpoint"},
		{name: "not http", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "grpc://otel:4317"}, err: "not an http(s) URL"},
		{name: "header without =", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
			"OTEL_EXPORTER_OTLP_HEADERS": "secret-token-value"}, err: "OTEL_EXPORTER_OTLP_HEADERS: an entry is not key=value"},
		{name: "bad timeout", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
			"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, err: "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{name: "bad compression", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
			"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, err: "OTEL_EXPORTER_OTLP_COMPRESSION"},
		{name: "client certificate without key", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel:4318",
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/etc/otel/client.pem"}, err: "go together"},
		{name: "missing CA file", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel:4318",
			"OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"}, err: "OTEL_EXPORTER_OTLP_CERTIFICATE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := newOTLPClient("traces", func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret-token-value") {
					t.Errorf("error %q repeats the header value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{c.url, c.headers, c.timeout, c.gzip}
			if d := cmp.Diff([]any{tc.url, tc.headers, tc.timeout, tc.gzip}, got); d != "" {
				t.Errorf("client (-want +got):\n%s", d)
			}
		})
	}
}

// TestOTLPExportRetries: 429, 502, 503 and 504 are retried (after
// Retry-After when given) and the export succeeds once the collector
// accepts; another answer fails at once; retries stop at the timeout.
func TestOTLPExportRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int // the answers in order; then 200
		timeout  time.Duration
		wantErr  string
		wantReqs int
	}{
		{name: "busy then accepted", statuses: []int{503, 429, 502, 504}, timeout: 10 * time.Second, wantReqs: 5},
		{name: "bad request is permanent", statuses: []int{400}, timeout: 10 * time.Second, wantErr: "400", wantReqs: 1},
		{name: "down past the timeout", statuses: slices.Repeat([]int{503}, 1000), timeout: 300 * time.Millisecond, wantErr: "503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			col := newCollector(t)
			col.answer = func(n int, w http.ResponseWriter) int {
				if n < len(tc.statuses) {
					if n == 0 {
						w.Header().Set("Retry-After", "0") // not a positive number of seconds: the client's backoff
					}
					return tc.statuses[n]
				}
				return http.StatusOK
			}
			c, err := newOTLPClient("metrics", func(k string) string {
				return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL, "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			c.backoff, c.timeout = time.Millisecond, tc.timeout
			body := []byte("export request")
			err = c.export(context.Background(), body)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("export = %v, want error %q", err, tc.wantErr)
			}
			got := col.received()
			if tc.wantReqs > 0 && len(got) != tc.wantReqs {
				t.Errorf("requests = %d, want %d", len(got), tc.wantReqs)
			}
			if len(got) < 2 && tc.wantErr == "503" {
				t.Errorf("requests = %d, want retries until the timeout", len(got))
			}
			for _, r := range got {
				if r.path != "/v1/metrics" || r.encoding != "gzip" || string(r.body) != string(body) {
					t.Errorf("request %s %q body %q", r.path, r.encoding, r.body)
				}
			}
		})
	}
}
