package web_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// logLines decodes JSON log lines.
func logLines(tb testing.TB, buf *bytes.Buffer) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// requestLine returns the one "http request" line of a log.
func requestLine(tb testing.TB, lines []map[string]any) map[string]any {
	tb.Helper()
	var found []map[string]any
	for _, l := range lines {
		if l["msg"] == "http request" {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("%d request lines in %v, want 1", len(found), lines)
	}
	return found[0]
}

// pick returns the given keys of a log line.
func pick(line map[string]any, keys ...string) map[string]any {
	m := make(map[string]any, len(keys))
	for _, k := range keys {
		m[k] = line[k]
	}
	return m
}

// loggedAPI is the production wiring: Logged around a Mux of routes.
func loggedAPI(tb testing.TB, logs *bytes.Buffer) http.Handler {
	tb.Helper()
	routes := []web.Route{
		{Method: http.MethodGet, Pattern: "/api/x/{id}", Handler: func(w http.ResponseWriter, r *http.Request) {
			web.Logger(r.Context()).Info("inside the handler")
			web.JSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		}},
		{Method: http.MethodPost, Pattern: "/api/x/{id}/panic", Handler: func(http.ResponseWriter, *http.Request) {
			panic("boom: ada@example.com")
		}},
		{Method: http.MethodPost, Pattern: "/api/x/{id}/panic-after-write", Handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("late boom")
		}},
	}
	return web.Logged("portal", slog.New(slog.NewJSONHandler(logs, nil)), web.Mux(routes))
}

func TestLoggedNeverLogsThePathOrQuery(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r := httptest.NewRequest(http.MethodGet, "/api/x/secret-id?code=funckey", nil)
	r.Header.Set("X-Azure-Functions-InvocationId", "inv-1")
	rec := httptest.NewRecorder()
	loggedAPI(t, &logs).ServeHTTP(rec, r)

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	for _, secret := range []string{"secret-id", "funckey", "code="} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, logs.String())
		}
	}
	lines := logLines(t, &logs)
	want := map[string]any{"level": "INFO", "function": "portal", "invocation_id": "inv-1", "method": "GET", "status": 200.0}
	if diff := cmp.Diff(want, pick(requestLine(t, lines), "level", "function", "invocation_id", "method", "status")); diff != "" {
		t.Errorf("request line (-want +got):\n%s", diff)
	}
	if _, ok := requestLine(t, lines)["duration_ms"]; !ok {
		t.Error("request line has no duration_ms")
	}
	// The handler's own lines carry the invocation's attributes.
	var inside map[string]any
	for _, l := range lines {
		if l["msg"] == "inside the handler" {
			inside = l
		}
	}
	if diff := cmp.Diff(map[string]any{"function": "portal", "invocation_id": "inv-1"}, pick(inside, "function", "invocation_id")); diff != "" {
		t.Errorf("handler line (-want +got):\n%s", diff)
	}
}

func TestLoggedLogsTheRoutePattern(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	loggedAPI(t, &logs).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/x/secret-id?code=funckey", nil))
	got := requestLine(t, logLines(t, &logs))["route"]
	failIfRegressed(t, got == "",
		"middleware.go:232 logs the outer request's Pattern, but ServeMux sets Pattern on the copy made by r.WithContext at line 235; "+
			"with Logged around Mux (functions/app.go:141-143) the route is always empty")
	if got != "GET /api/x/{id}" {
		t.Errorf("route = %v, want the matched pattern GET /api/x/{id}", got)
	}
}

func TestLoggedRouteWhenThePatternIsKnownBeforehand(t *testing.T) {
	t.Parallel()
	// Logged inside a mux route sees the pattern the mux matched.
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.Handle("GET /api/x/{id}", web.Logged("portal", slog.New(slog.NewJSONHandler(&logs, nil)),
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/x/secret-id?code=funckey", nil))
	want := map[string]any{"method": "GET", "route": "GET /api/x/{id}", "status": 204.0}
	if diff := cmp.Diff(want, pick(requestLine(t, logLines(t, &logs)), "method", "route", "status")); diff != "" {
		t.Errorf("request line (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), "secret-id") || strings.Contains(logs.String(), "funckey") {
		t.Errorf("log contains the raw path or query:\n%s", logs.String())
	}
}

func TestLoggedInvocationID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header string
		ctxID  string
		want   any
	}{
		{"from the host's header", "inv-header", "", "inv-header"},
		{"from the context", "", "inv-ctx", "inv-ctx"},
		{"the header wins", "inv-header", "inv-ctx", "inv-header"},
		{"none", "", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			r := httptest.NewRequest(http.MethodGet, "/api/x/r-1", nil)
			if tc.header != "" {
				r.Header.Set("X-Azure-Functions-InvocationId", tc.header)
			}
			if tc.ctxID != "" {
				r = r.WithContext(trigger.WithInvocation(r.Context(), trigger.Invocation{ID: tc.ctxID, Function: "portal"}))
			}
			loggedAPI(t, &logs).ServeHTTP(httptest.NewRecorder(), r)
			if got := requestLine(t, logLines(t, &logs))["invocation_id"]; got != tc.want {
				t.Errorf("invocation_id = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoggedRecoversPanics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   bool // a problem document
	}{
		{"before writing", "/api/x/r-1/panic", http.StatusInternalServerError, true},
		{"after writing the header", "/api/x/r-1/panic-after-write", http.StatusAccepted, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			rec := httptest.NewRecorder()
			loggedAPI(t, &logs).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tc.path, nil))

			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if tc.wantBody {
				want := web.ProblemDetails{Type: "urn:privops:problem:internal", Title: "Internal Server Error", Status: 500, Code: "internal"}
				if diff := cmp.Diff(want, problemOf(t, rec), ignoreDetail); diff != "" {
					t.Errorf("problem (-want +got):\n%s", diff)
				}
				if strings.Contains(rec.Body.String(), "boom") {
					t.Errorf("response %s leaks the panic", rec.Body.String())
				}
			} else if rec.Body.Len() != 0 {
				t.Errorf("body %q written after the handler had answered", rec.Body.String())
			}
			lines := logLines(t, &logs)
			var panics int
			for _, l := range lines {
				if l["msg"] == "panic in handler" && l["level"] == "ERROR" && l["function"] == "portal" {
					panics++
				}
			}
			if panics != 1 {
				t.Errorf("%d panic lines, want 1:\n%s", panics, logs.String())
			}
			if got := requestLine(t, lines)["status"]; got != float64(tc.wantStatus) {
				t.Errorf("logged status = %v, want %d", got, tc.wantStatus)
			}
		})
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	l := slog.New(slog.DiscardHandler)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if got := web.Logger(web.WithLogger(r.Context(), l)); got != l {
		t.Error("Logger does not return the logger put in the context")
	}
	if got := web.Logger(r.Context()); got != slog.Default() {
		t.Error("Logger without one in the context is not slog.Default()")
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		remote  string
		xff     string
		trusted bool
		want    string
	}{
		{"socket address by default", "203.0.113.7:52100", "", false, "203.0.113.7"},
		{"forwarded header ignored when not trusted", "203.0.113.7:52100", "198.51.100.1", false, "203.0.113.7"},
		{"forwarded header used when trusted", "10.0.0.1:443", "198.51.100.1", true, "198.51.100.1"},
		{"right-most of a list: the entry the trusted proxy appended", "10.0.0.1:443", "203.0.113.66, 10.0.0.9, 198.51.100.1", true, "198.51.100.1"},
		{"a client-chosen left entry is ignored", "10.0.0.1:443", "1.2.3.4, 198.51.100.1:61234", true, "198.51.100.1"},
		{"IPv6 with a port", "10.0.0.1:443", "[2001:db8::1]:61234", true, "2001:db8::1"},
		{"bare IPv6", "10.0.0.1:443", "2001:db8::1", true, "2001:db8::1"},
		{"surrounding spaces", "10.0.0.1:443", "10.0.0.9,  198.51.100.1  ", true, "198.51.100.1"},
		{"garbage falls back to the socket", "10.0.0.1:443", "not-an-ip", true, "10.0.0.1"},
		{"a host name falls back", "10.0.0.1:443", "evil.example", true, "10.0.0.1"},
		{"an empty right-most entry falls back", "10.0.0.1:443", "198.51.100.1, ", true, "10.0.0.1"},
		{"trusted but absent", "10.0.0.1:443", "", true, "10.0.0.1"},
		{"IPv6 socket", "[2001:db8::2]:443", "", false, "2001:db8::2"},
		{"socket without a port", "203.0.113.7", "", false, "203.0.113.7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := web.ClientIP(r, tc.trusted); got != tc.want {
				t.Errorf("ClientIP(remote %q, XFF %q, trusted %t) = %q, want %q", tc.remote, tc.xff, tc.trusted, got, tc.want)
			}
		})
	}
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(tb testing.TB) *fakeClock {
	tb.Helper()
	return &fakeClock{t: time.Date(2030, 1, 31, 23, 59, 30, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func TestLimiter(t *testing.T) {
	t.Parallel()
	// step is one call: advance the clock, then Allow(key).
	type step struct {
		advance time.Duration
		key     string
		want    bool
	}
	cases := []struct {
		name  string
		max   int
		steps []step
	}{
		{"Max per window", 3, []step{
			{0, "a", true}, {0, "a", true}, {0, "a", true}, {0, "a", false}, {time.Second, "a", false},
		}},
		{"keys are independent", 2, []step{
			{0, "a", true}, {0, "a", true}, {0, "a", false},
			{0, "b", true}, {0, "b", true}, {0, "b", false},
			{0, "a", false},
		}},
		{"a new window starts after Window", 2, []step{
			{0, "a", true}, {0, "a", true}, {0, "a", false},
			{time.Minute - time.Nanosecond, "a", false},
			{time.Nanosecond, "a", true}, {0, "a", true}, {0, "a", false},
		}},
		{"the window starts at a key's first event", 1, []step{
			{0, "a", true},
			{30 * time.Second, "b", true},
			{30 * time.Second, "a", true}, // a's window is over
			{0, "b", false},               // b's is not
			{30 * time.Second, "b", true},
		}},
		{"a refused event does not extend the window", 1, []step{
			{0, "a", true}, {50 * time.Second, "a", false}, {10 * time.Second, "a", true},
		}},
		{"Max 0 is unlimited", 0, []step{
			{0, "a", true}, {0, "a", true}, {0, "a", true}, {0, "a", true}, {0, "a", true},
		}},
		{"negative Max is unlimited", -1, []step{
			{0, "a", true}, {0, "a", true}, {0, "a", true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock(t)
			l := &web.Limiter{Max: tc.max, Window: time.Minute, Now: clock.Now}
			var want, got []bool
			for _, s := range tc.steps {
				clock.Advance(s.advance)
				want = append(want, s.want)
				got = append(got, l.Allow(s.key))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Allow results, step by step (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLimiterWait: Take says how long until the key's window ends, which is
// what Retry-After sends (it was a constant 60 s whatever the window).
func TestLimiterWait(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t)
	l := &web.Limiter{Max: 2, Window: time.Hour, Now: clock.Now}
	type took struct {
		OK   bool
		Wait time.Duration
	}
	var got []took
	for _, advance := range []time.Duration{0, 10 * time.Minute, 5 * time.Minute, 44*time.Minute + 59*time.Second, time.Second} {
		clock.Advance(advance)
		ok, wait := l.Take("a")
		got = append(got, took{ok, wait})
	}
	want := []took{{true, 0}, {true, 0}, {false, 45 * time.Minute}, {false, time.Second}, {true, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Take results (-want +got):\n%s", diff)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(t)
	l := &web.Limiter{Max: 10, Window: time.Minute, Now: clock.Now}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if l.Allow("203.0.113.7") {
				allowed.Add(1)
			}
			l.Allow("other") // a second key, to exercise the map concurrently
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Errorf("%d of 100 concurrent events allowed, want Max = 10", got)
	}
}
