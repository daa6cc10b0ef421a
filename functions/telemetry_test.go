package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/sqlite"
	"github.com/privops/privops/shared/standalone"
	"github.com/privops/privops/shared/telemetry"
	"github.com/privops/privops/shared/trigger"
)

// tracedSuite is the wired suite on the standalone host and the built-in
// (SQLite) queue, instrumented with in-memory telemetry.
type tracedSuite struct {
	app     *app
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	base    string
	logs    *syncBuffer
}

func startTraced(tb testing.TB) *tracedSuite {
	tb.Helper()
	ctx := tb.Context()
	cfg, err := config.Load()
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DataDir = tb.TempDir()
	ts := &tracedSuite{spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader(), logs: &syncBuffer{}}
	a := &app{cfg: cfg, log: logging.New(ts.logs, "info"), secrets: config.Secrets{Root: bytes.Repeat([]byte{9}, 32), DevJWT: devKey}}
	ts.app = a
	if a.tel, err = telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(ts.spans)),
		sdkmetric.NewMeterProvider(sdkmetric.WithReader(ts.metrics)), time.Now); err != nil {
		tb.Fatal(err)
	}
	if a.db, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "privops.db"), sqlite.Options{}); err != nil {
		tb.Fatal(err)
	}
	verifier, err := auth.NewHS256(devKey, cfg.AuthIssuer, cfg.AuthAudience, time.Now)
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.wire(adapters{store: a.db.Store(), publisher: a.db.Queue(), mailer: &mailbox{}, verifier: verifier, now: time.Now}); err != nil {
		tb.Fatal(err)
	}
	if _, err := a.svc.EnsureTenant(ctx, demoTenant()); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ts.base = "http://" + ln.Addr().String()
	host := &standalone.Host{Listener: ln, Functions: a.funcs, Specs: a.specs, Receiver: a.db.Queue(),
		PollInterval: 10 * time.Millisecond, Lease: 10 * time.Second, Workers: 1, Logger: a.log}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(runCtx) }()
	tb.Cleanup(func() { stop(); <-done; a.Close() })
	return ts
}

// waitSpan returns the first ended span named name, waiting up to 10s.
func (ts *tracedSuite) waitSpan(tb testing.TB, name string) sdktrace.ReadOnlySpan {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range ts.spans.Ended() {
			if s.Name() == name {
				return s
			}
		}
	}
	var names []string
	for _, s := range ts.spans.Ended() {
		names = append(names, s.Name())
	}
	tb.Fatalf("no span %q; ended: %q", name, names)
	return nil
}

// TestTraceCrossesTheBuiltInQueue: a request filed over HTTP publishes its
// notice from inside the HTTP span; after the message crosses the built-in
// queue, the notify function's span is that HTTP span's child, in the same
// trace. Spans and metrics name routes and queues, never the subject.
func TestTraceCrossesTheBuiltInQueue(t *testing.T) {
	t.Parallel()
	ts := startTraced(t)
	tok, err := auth.Mint(devKey, auth.Claims{Subject: "alice", TenantID: "demo", Roles: []string{auth.RoleAdmin}},
		ts.app.cfg.AuthIssuer, ts.app.cfg.AuthAudience, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", ts.base+"/api/admin/demo/requests",
		strings.NewReader(`{"type":"access","email":"ada.lovelace@example.com","country":"DE"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var filed struct{ ID string }
	_ = json.NewDecoder(res.Body).Decode(&filed)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %d", res.StatusCode)
	}

	intake := ts.waitSpan(t, "POST /api/admin/{tenant}/requests")
	notify := ts.waitSpan(t, "process "+ts.app.cfg.NoticesQueue)
	if notify.Parent().SpanID() != intake.SpanContext().SpanID() || notify.SpanContext().TraceID() != intake.SpanContext().TraceID() {
		t.Errorf("notify span: trace %s parent %s; want the intake span's child (trace %s span %s)",
			notify.SpanContext().TraceID(), notify.Parent().SpanID(), intake.SpanContext().TraceID(), intake.SpanContext().SpanID())
	}
	if !notify.Parent().IsRemote() {
		t.Error("notify span's parent is not remote: the context did not travel in the message")
	}
	for _, s := range ts.spans.Ended() {
		for _, a := range s.Attributes() {
			if v := a.Value.Emit(); strings.Contains(v, "ada") || strings.Contains(v, "example.com") {
				t.Errorf("span %q attribute %s = %q carries personal data", s.Name(), a.Key, v)
			}
		}
	}

	var rm metricdata.ResourceMetrics
	if err := ts.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			seen[m.Name] = true
		}
	}
	for _, name := range []string{"privops.http.requests", "privops.queue.messages", "privops.queue.lag"} {
		if !seen[name] {
			t.Errorf("metric %s not recorded; have %v", name, seen)
		}
	}
}

// TestTelemetryOffByDefault: without OTEL_EXPORTER_OTLP_ENDPOINT the app
// builds no telemetry and its functions are the bare handlers.
func TestTelemetryOffByDefault(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	if ta.cfg.OTelEndpoint != "" || ta.tel != nil {
		t.Fatalf("telemetry on without an endpoint: %q %v", ta.cfg.OTelEndpoint, ta.tel)
	}
	if ta.taskSettled() != nil || ta.traceContext() != nil || ta.deadlineCounts() != nil {
		t.Error("a telemetry hook is installed while telemetry is off")
	}
}

// send issues an admin call with a demo admin token and returns the status
// and the decoded body.
func (ts *tracedSuite) send(tb testing.TB, method, path, body string) (int, map[string]any) {
	tb.Helper()
	tok, err := auth.Mint(devKey, auth.Claims{Subject: "alice", TenantID: "demo", Roles: []string{auth.RoleAdmin}},
		ts.app.cfg.AuthIssuer, ts.app.cfg.AuthAudience, time.Now(), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	req, _ := http.NewRequest(method, ts.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// taskPoints returns the privops.tasks counts as "action/status" → n.
func (ts *tracedSuite) taskPoints(tb testing.TB) map[string]int64 {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := ts.metrics.Collect(context.Background(), &rm); err != nil {
		tb.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "privops.tasks" {
				for _, p := range sum.DataPoints {
					a, _ := p.Attributes.Value("action")
					s, _ := p.Attributes.Value("status")
					out[a.AsString()+"/"+s.AsString()] += p.Value
				}
			}
		}
	}
	return out
}

// TestTaskOutcomesAreCounted: a manual service's task is counted when the
// worker leaves it waiting and again when the admin completes it; the task
// worker's span continues the approval's trace.
func TestTaskOutcomesAreCounted(t *testing.T) {
	t.Parallel()
	ts := startTraced(t)
	if status, body := ts.send(t, "PUT", "/api/admin/demo/services/crm",
		`{"name":"CRM","kind":"manual","actions":["export","erase"],"categories":["profile"],"identifiers":["email"]}`); status != 201 {
		t.Fatalf("service: %d %v", status, body)
	}
	status, filed := ts.send(t, "POST", "/api/admin/demo/requests", `{"type":"access","email":"ada@example.com","country":"DE"}`)
	if status != 201 {
		t.Fatalf("submit: %d %v", status, filed)
	}
	id, _ := filed["id"].(string)
	// The submission's receipt is mailed first. Otherwise the notify worker
	// may record it (a write combined with the approval's: shared/dsr/
	// combine.go) while the approval commits, and then flush the approval's
	// task message from the submission's trace before the approval flushes
	// it; the queue keeps whichever copy came first (by id), so the task
	// worker's trace depended on that race. Waiting for the receipt leaves the
	// approval's trace as the only one that can publish the task message.
	ts.waitSpan(t, "process "+ts.app.cfg.NoticesQueue)
	if status, body := ts.send(t, "POST", "/api/admin/demo/requests/"+id+"/approve", ""); status != 200 {
		t.Fatalf("approve: %d %v", status, body)
	}
	approve := ts.waitSpan(t, "POST /api/admin/{tenant}/requests/{id}/approve")
	worker := ts.waitSpan(t, "process "+ts.app.cfg.TasksQueue)
	if worker.SpanContext().TraceID() != approve.SpanContext().TraceID() {
		t.Errorf("task worker span in trace %s, want the approval's %s", worker.SpanContext().TraceID(), approve.SpanContext().TraceID())
	}
	var taskID string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && taskID == ""; time.Sleep(10 * time.Millisecond) {
		_, r := ts.send(t, "GET", "/api/admin/demo/requests/"+id, "")
		tasks, _ := r["tasks"].([]any)
		for _, x := range tasks {
			if task, _ := x.(map[string]any); task["status"] == "waiting" {
				taskID, _ = task["id"].(string)
			}
		}
	}
	if taskID == "" {
		t.Fatal("the manual task never waited for its answer")
	}
	if status, body := ts.send(t, "POST", "/api/admin/demo/requests/"+id+"/tasks/"+taskID+"/complete",
		`{"outcome":"done","items":1,"note":"exported by hand"}`); status != 200 {
		t.Fatalf("complete: %d %v", status, body)
	}
	want := map[string]int64{"export/waiting": 1, "export/done": 1}
	got := ts.taskPoints(t)
	if got["export/waiting"] != want["export/waiting"] || got["export/done"] != want["export/done"] {
		t.Errorf("privops.tasks = %v, want %v", got, want)
	}
}

// TestDeadlineWatchReportsOverdue: each run records every tenant's overdue
// count (tenant id only), inside a timer span.
func TestDeadlineWatchReportsOverdue(t *testing.T) {
	t.Parallel()
	ts := startTraced(t)
	for _, f := range ts.app.funcs {
		if f.Name == "deadlinewatch" {
			if err := f.Timer(t.Context(), trigger.TimerInfo{ScheduledAt: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ts.waitSpan(t, "timer deadlinewatch")
	var rm metricdata.ResourceMetrics
	if err := ts.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == "privops.deadlines.overdue" {
				for _, p := range g.DataPoints {
					v, _ := p.Attributes.Value("tenant_id")
					got = append(got, fmt.Sprintf("%s=%d (%d attributes)", v.AsString(), p.Value, p.Attributes.Len()))
				}
			}
		}
	}
	if diff := cmp.Diff([]string{"demo=0 (1 attributes)"}, got); diff != "" {
		t.Errorf("privops.deadlines.overdue (-want +got):\n%s", diff)
	}
}
