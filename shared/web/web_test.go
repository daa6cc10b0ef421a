package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// failIfRegressed fails tb when a bug fixed earlier reproduces again.
func failIfRegressed(tb testing.TB, reproduces bool, bug string) {
	tb.Helper()
	if reproduces {
		tb.Fatalf("regression: %s", bug)
	}
}

// onlyReader hides the length of a body, so the request is sent chunked.
type onlyReader struct{ io.Reader }

// submission is the kind of body the portal decodes.
type submission struct {
	Type  string `json:"type"`
	Email string `json:"email"`
	Age   int    `json:"age,omitempty"`
}

// problemOf decodes a problem+json response.
func problemOf(tb testing.TB, rec *httptest.ResponseRecorder) web.ProblemDetails {
	tb.Helper()
	var p web.ProblemDetails
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("response body is not a problem document: %v", err)
	}
	return p
}

// ignoreDetail leaves the human message out of a comparison.
var ignoreDetail = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Detail" }, cmp.Ignore())

func TestDecode(t *testing.T) {
	t.Parallel()
	const limit = 64
	long := `{"type":"access","email":"` + strings.Repeat("a", limit) + `@example.com"}`
	cases := []struct {
		name          string
		contentType   string
		body          io.Reader
		contentLength int64 // 0: as httptest sets it; -1: unknown (chunked)
		wantCode      string
		wantKind      privacy.Kind
		want          submission
	}{
		{name: "valid", contentType: "application/json", body: strings.NewReader(`{"type":"access","email":"ada@example.com"}`),
			want: submission{Type: "access", Email: "ada@example.com"}},
		{name: "valid with a charset", contentType: "application/json; charset=utf-8", body: strings.NewReader(`{"type":"erase"}`),
			want: submission{Type: "erase"}},
		{name: "valid with surrounding white space", contentType: "application/json", body: strings.NewReader(" \n{\"type\":\"erase\"}\n "),
			want: submission{Type: "erase"}},
		{name: "valid chunked within the limit", contentType: "application/json", contentLength: -1,
			body: onlyReader{strings.NewReader(`{"type":"object"}`)}, want: submission{Type: "object"}},
		{name: "exactly the limit", contentType: "application/json",
			body: strings.NewReader(`{"type":"` + strings.Repeat("x", limit-11) + `"}`), want: submission{Type: strings.Repeat("x", limit-11)}},

		{name: "missing content type", body: strings.NewReader(`{}`), wantCode: "unsupported-media-type", wantKind: privacy.KindUnsupported},
		{name: "text/plain", contentType: "text/plain", body: strings.NewReader(`{}`), wantCode: "unsupported-media-type", wantKind: privacy.KindUnsupported},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: strings.NewReader(`type=access`), wantCode: "unsupported-media-type", wantKind: privacy.KindUnsupported},
		{name: "a JSON suffix type", contentType: "application/merge-patch+json", body: strings.NewReader(`{}`), wantCode: "unsupported-media-type", wantKind: privacy.KindUnsupported},
		{name: "unparsable content type", contentType: "application/json; charset", body: strings.NewReader(`{}`), wantCode: "unsupported-media-type", wantKind: privacy.KindUnsupported},

		{name: "Content-Length over the limit", contentType: "application/json", body: strings.NewReader(long),
			wantCode: "body-too-large", wantKind: privacy.KindTooLarge},
		{name: "Content-Length announced over the limit", contentType: "application/json", body: strings.NewReader(`{}`), contentLength: limit + 1,
			wantCode: "body-too-large", wantKind: privacy.KindTooLarge},
		{name: "chunked body over the limit", contentType: "application/json", body: onlyReader{strings.NewReader(long)}, contentLength: -1,
			wantCode: "body-too-large", wantKind: privacy.KindTooLarge},
		{name: "chunked body of a megabyte of white space", contentType: "application/json", body: onlyReader{strings.NewReader("{" + strings.Repeat(" ", 1<<20) + "}")}, contentLength: -1,
			wantCode: "body-too-large", wantKind: privacy.KindTooLarge},

		{name: "malformed JSON", contentType: "application/json", body: strings.NewReader(`{"type":"access",}`), wantCode: "malformed-json", wantKind: privacy.KindInvalid},
		{name: "truncated JSON", contentType: "application/json", body: strings.NewReader(`{"type":"acc`), wantCode: "malformed-json", wantKind: privacy.KindInvalid},
		{name: "empty body", contentType: "application/json", body: strings.NewReader(``), wantCode: "empty-body", wantKind: privacy.KindInvalid},
		{name: "white space only", contentType: "application/json", body: strings.NewReader(" \n"), wantCode: "empty-body", wantKind: privacy.KindInvalid},
		{name: "no body and no content type", body: strings.NewReader(``), wantCode: "empty-body", wantKind: privacy.KindInvalid},
		{name: "two objects", contentType: "application/json", body: strings.NewReader(`{"type":"access"}{"type":"erase"}`), wantCode: "malformed-json", wantKind: privacy.KindInvalid},
		{name: "an object then a number", contentType: "application/json", body: strings.NewReader(`{"type":"access"} 1`), wantCode: "malformed-json", wantKind: privacy.KindInvalid},

		{name: "unknown field", contentType: "application/json", body: strings.NewReader(`{"type":"access","admin":true}`), wantCode: "unknown-field", wantKind: privacy.KindInvalid},

		{name: "string for a number", contentType: "application/json", body: strings.NewReader(`{"age":"42"}`), wantCode: "invalid-field", wantKind: privacy.KindInvalid},
		{name: "number for a string", contentType: "application/json", body: strings.NewReader(`{"email":42}`), wantCode: "invalid-field", wantKind: privacy.KindInvalid},
		{name: "object for a string", contentType: "application/json", body: strings.NewReader(`{"type":{"x":1}}`), wantCode: "invalid-field", wantKind: privacy.KindInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/api/portal/acme/requests", tc.body)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.contentLength != 0 {
				r.ContentLength = tc.contentLength
			}
			var got submission
			err := web.Decode(httptest.NewRecorder(), r, limit, &got)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("decoded (-want +got):\n%s", diff)
				}
				return
			}
			e, ok := privacy.AsError(err)
			if !ok {
				t.Fatalf("Decode error = %v, want a *privacy.Error", err)
			}
			if e.Code != tc.wantCode || e.Kind != tc.wantKind {
				t.Errorf("Decode error = %q kind %d, want %q kind %d", e.Code, e.Kind, tc.wantCode, tc.wantKind)
			}
		})
	}
}

// TestDecodeKnownGaps lists bodies Decode once accepted or misnamed; the
// strict pass (strict.go) refuses each as malformed JSON.
func TestDecodeKnownGaps(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, bug string }{
		{"a trailing closing brace", `{"type":"access"}}`,
			"web.go:135 json.Decoder.More reports false before '}' and ']', so a body with a trailing '}' or ']' is accepted"},
		{"a trailing closing bracket", `{"type":"access"}]`,
			"web.go:135 json.Decoder.More reports false before '}' and ']', so a body with a trailing '}' or ']' is accepted"},
		{"an array", `[{"type":"access"}]`,
			`web.go:128 a body that is not an object surfaces as *json.UnmarshalTypeError and answers invalid-field with field ""`},
		{"a string", `"access"`,
			`web.go:128 a body that is not an object surfaces as *json.UnmarshalTypeError and answers invalid-field with field ""`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			var v submission
			err := web.Decode(httptest.NewRecorder(), r, 1024, &v)
			e, ok := privacy.AsError(err)
			failIfRegressed(t, err == nil || ok && e.Code == "invalid-field", tc.bug)
			if !ok || e.Code != "malformed-json" {
				t.Errorf("Decode(%s) = %v, want malformed-json", tc.body, err)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		kind privacy.Kind
		want int
	}{
		{"invalid", privacy.KindInvalid, http.StatusBadRequest},
		{"unauthorized", privacy.KindUnauthorized, http.StatusUnauthorized},
		{"forbidden", privacy.KindForbidden, http.StatusForbidden},
		{"not found", privacy.KindNotFound, http.StatusNotFound},
		{"conflict", privacy.KindConflict, http.StatusConflict},
		{"gone", privacy.KindGone, http.StatusGone},
		{"too large", privacy.KindTooLarge, http.StatusRequestEntityTooLarge},
		{"unsupported", privacy.KindUnsupported, http.StatusUnsupportedMediaType},
		{"unprocessable", privacy.KindUnprocessable, http.StatusUnprocessableEntity},
		{"too many", privacy.KindTooMany, http.StatusTooManyRequests},
		{"unavailable", privacy.KindUnavailable, http.StatusServiceUnavailable},
		{"zero kind", 0, http.StatusInternalServerError},
		{"precondition failed", privacy.KindPreconditionFailed, http.StatusPreconditionFailed},
		{"precondition required", privacy.KindPreconditionRequired, http.StatusPreconditionRequired},
		{"not implemented", privacy.KindNotImplemented, http.StatusNotImplemented},
		{"unknown kind", privacy.KindNotImplemented + 1, http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := web.Status(tc.kind); got != tc.want {
				t.Errorf("Status(%d) = %d, want %d", tc.kind, got, tc.want)
			}
		})
	}
}

// throttled is a store error carrying the store's retry hint, as the Cosmos
// adapter's is.
type throttled time.Duration

func (d throttled) Error() string             { return "throttled" }
func (d throttled) RetryAfter() time.Duration { return time.Duration(d) }

func TestProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		err            error
		want           web.ProblemDetails
		wantRetryAfter string
		wantLogged     bool
	}{
		{"a user error keeps its code and message",
			privacy.Errorf(privacy.KindUnprocessable, "wrong-code", "the code does not match"),
			web.ProblemDetails{Type: "urn:privops:problem:wrong-code", Title: "Unprocessable Entity", Status: 422, Code: "wrong-code", Detail: "the code does not match"},
			"", false},
		{"a wrapped user error",
			fmt.Errorf("verify r-1: %w", privacy.Errorf(privacy.KindGone, "code-expired", "the code has expired")),
			web.ProblemDetails{Type: "urn:privops:problem:code-expired", Title: "Gone", Status: 410, Code: "code-expired", Detail: "the code has expired"},
			"", false},
		// Retry-After tells the real wait, and only when there is one: it was
		// a constant 60 on every 429.
		{"rate limited: the limiter's wait, rounded up",
			web.RateLimited("too many requests", 41*time.Second+500*time.Millisecond),
			web.ProblemDetails{Type: "urn:privops:problem:rate-limited", Title: "Too Many Requests", Status: 429, Code: "rate-limited", Detail: "too many requests"},
			"42", false},
		{"rate limited for an hour",
			fmt.Errorf("submit: %w", web.RateLimited("too many requests", 59*time.Minute+1)),
			web.ProblemDetails{Type: "urn:privops:problem:rate-limited", Title: "Too Many Requests", Status: 429, Code: "rate-limited", Detail: "too many requests"},
			"3541", false},
		{"a wait under a second is one second",
			web.RateLimited("too many requests", time.Millisecond),
			web.ProblemDetails{Type: "urn:privops:problem:rate-limited", Title: "Too Many Requests", Status: 429, Code: "rate-limited", Detail: "too many requests"},
			"1", false},
		{"rate limited with no known wait",
			privacy.Errorf(privacy.KindTooMany, "rate-limited", "too many requests"),
			web.ProblemDetails{Type: "urn:privops:problem:rate-limited", Title: "Too Many Requests", Status: 429, Code: "rate-limited", Detail: "too many requests"},
			"", false},
		{"attempts exhausted: waiting does not help",
			privacy.Errorf(privacy.KindTooMany, "too-many-attempts", "no attempts left"),
			web.ProblemDetails{Type: "urn:privops:problem:too-many-attempts", Title: "Too Many Requests", Status: 429, Code: "too-many-attempts", Detail: "no attempts left"},
			"", false},
		{"an unavailable store that says how long",
			fmt.Errorf("update request r-1: %w: %w", privacy.ErrUnavailable, throttled(1500*time.Millisecond)),
			web.ProblemDetails{Type: "urn:privops:problem:unavailable", Title: "Service Unavailable", Status: 503, Code: "unavailable"},
			"2", false},
		{"a wrapped unavailable dependency",
			fmt.Errorf("update request r-1: %w", privacy.ErrUnavailable),
			web.ProblemDetails{Type: "urn:privops:problem:unavailable", Title: "Service Unavailable", Status: 503, Code: "unavailable"},
			"", false},
		{"any other error",
			fmt.Errorf("query requests of ada@example.com: %w", errors.New("disk I/O error at /var/lib/privops/privops.db")),
			web.ProblemDetails{Type: "urn:privops:problem:internal", Title: "Internal Server Error", Status: 500, Code: "internal"},
			"", true},
		{"a not-found sentinel is internal, not a 404",
			fmt.Errorf("get tenant acme: %w", privacy.ErrNotFound),
			web.ProblemDetails{Type: "urn:privops:problem:internal", Title: "Internal Server Error", Status: 500, Code: "internal"},
			"", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil)).With("invocation_id", "inv-42")
			r := httptest.NewRequest(http.MethodGet, "/api/portal/acme/requests/r-1", nil)
			r = r.WithContext(web.WithLogger(r.Context(), logger))
			rec := httptest.NewRecorder()

			web.Problem(rec, r, tc.err)

			if rec.Code != tc.want.Status {
				t.Errorf("status = %d, want %d", rec.Code, tc.want.Status)
			}
			gotHeaders := map[string]string{
				"Content-Type":  rec.Header().Get("Content-Type"),
				"Cache-Control": rec.Header().Get("Cache-Control"),
				"Retry-After":   rec.Header().Get("Retry-After"),
			}
			wantHeaders := map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store", "Retry-After": tc.wantRetryAfter}
			if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			body := rec.Body.String()
			var opts []cmp.Option
			if tc.want.Detail == "" {
				opts = append(opts, ignoreDetail)
			}
			if diff := cmp.Diff(tc.want, problemOf(t, rec), opts...); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}

			if !tc.wantLogged {
				if logs.Len() != 0 {
					t.Errorf("a user-facing error was logged: %s", logs.String())
				}
				return
			}
			// Internals never leak to the caller but reach the invocation's log.
			for _, internal := range []string{tc.err.Error(), "ada@example.com", "disk", "/var/lib", "not found", "tenant acme"} {
				if strings.Contains(body, internal) {
					t.Errorf("response %s leaks %q", body, internal)
				}
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log %q: %v", logs.String(), err)
			}
			gotLog := map[string]any{"level": line["level"], "msg": line["msg"], "error": line["error"], "invocation_id": line["invocation_id"]}
			wantLog := map[string]any{"level": "ERROR", "msg": "internal error", "error": tc.err.Error(), "invocation_id": "inv-42"}
			if diff := cmp.Diff(wantLog, gotLog); diff != "" {
				t.Errorf("context logger line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	web.Created(rec, "/api/portal/acme/requests/r-1", map[string]string{"id": "r-1"})
	got := map[string]string{
		"status":        fmt.Sprint(rec.Code),
		"Location":      rec.Header().Get("Location"),
		"Content-Type":  rec.Header().Get("Content-Type"),
		"Cache-Control": rec.Header().Get("Cache-Control"),
		"body":          rec.Body.String(),
	}
	want := map[string]string{
		"status":        "201",
		"Location":      "/api/portal/acme/requests/r-1",
		"Content-Type":  "application/json",
		"Cache-Control": "no-store",
		"body":          "{\"id\":\"r-1\"}\n",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Created (-want +got):\n%s", diff)
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, header, want string }{
		{"bearer token", "Bearer abc.def.ghi", "abc.def.ghi"},
		{"scheme in lower case", "bearer abc", "abc"},
		{"extra spaces", "Bearer   abc  ", "abc"},
		{"no header", "", ""},
		{"basic auth", "Basic dXNlcjpwdw==", ""},
		{"scheme only", "Bearer ", ""},
		{"no space", "Bearerabc", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got := web.Bearer(r); got != tc.want {
				t.Errorf("Bearer(%q) = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func TestMux(t *testing.T) {
	t.Parallel()
	mux := web.Mux([]web.Route{
		{Method: http.MethodGet, Pattern: "/api/portal/{tenant}/requests/{id}", Handler: func(w http.ResponseWriter, r *http.Request) {
			web.JSON(w, http.StatusOK, map[string]string{"tenant": r.PathValue("tenant"), "id": r.PathValue("id")})
		}},
	})
	cases := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantBody   string // for a route
		wantCode   string // for a problem
	}{
		{"a route", http.MethodGet, "/api/portal/acme/requests/r-1", 200, "{\"id\":\"r-1\",\"tenant\":\"acme\"}\n", ""},
		{"unknown path", http.MethodGet, "/api/portal/acme/unknown", 404, "", "not-found"},
		{"root", http.MethodGet, "/", 404, "", "not-found"},
		{"a prefix of a route", http.MethodGet, "/api/portal/acme/requests", 404, "", "not-found"},
		{"a route with a trailing segment", http.MethodGet, "/api/portal/acme/requests/r-1/extra", 404, "", "not-found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if tc.wantCode == "" {
				if diff := cmp.Diff(tc.wantBody, rec.Body.String()); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			want := web.ProblemDetails{Type: "urn:privops:problem:" + tc.wantCode, Title: http.StatusText(tc.wantStatus), Status: tc.wantStatus, Code: tc.wantCode}
			if diff := cmp.Diff(want, problemOf(t, rec), ignoreDetail); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a known path with another method", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/api/portal/acme/requests/r-1", nil))
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type = %q, want application/problem+json", ct)
		}
		failIfRegressed(t, rec.Code == http.StatusNotFound,
			`web.go:32 the catch-all "/" matches every method, so a known path with another method answers 404 not-found instead of the documented 405`)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("status = %d, want 405", rec.Code)
		}
	})
}
