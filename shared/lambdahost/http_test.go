package lambdahost

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/trigger"
	"github.com/privops/privops/shared/web"
)

// seen is what a handler observed of its request.
type seen struct {
	Method, Path, RawQuery, RequestURI, Host, RemoteAddr, Proto string
	Header                                                      http.Header
	Cookies                                                     map[string]string
	Query                                                       map[string]string
	Body                                                        string
	ContentLength                                               int64
	Invocation                                                  trigger.Invocation
}

// capture returns a handler that records its request into *got and answers 204.
func capture(tb testing.TB, got *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			tb.Errorf("read body: %v", err)
		}
		inv, _ := trigger.InvocationFrom(r.Context())
		*got = seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, RequestURI: r.RequestURI,
			Host: r.Host, RemoteAddr: r.RemoteAddr, Proto: r.Proto, Header: r.Header.Clone(),
			Cookies: map[string]string{}, Query: map[string]string{}, Body: string(b),
			ContentLength: r.ContentLength, Invocation: inv}
		for _, c := range r.Cookies() {
			got.Cookies[c.Name] = c.Value
		}
		for k := range r.URL.Query() {
			got.Query[k] = r.URL.Query().Get(k)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func TestHTTPRequestFromEvent(t *testing.T) {
	t.Parallel()
	zip := string([]byte{0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x80}) + "export-part-1"
	tests := []struct {
		name  string
		event string
		want  seen
	}{{
		name:  "GET with query, cookies and a joined header",
		event: "http_get.json",
		want: seen{Method: "GET", Path: "/api/portal/requests/status", RawQuery: "lang=de&ref=mail%20link",
			RequestURI: "/api/portal/requests/status?lang=de&ref=mail%20link", Host: "privacy.example.com",
			RemoteAddr: "203.0.113.7:0", Proto: "HTTP/1.1",
			Header: http.Header{
				"Accept":            {"text/html,application/xhtml+xml"},
				"Accept-Encoding":   {"gzip, deflate, br"},
				"Accept-Language":   {"de-DE,de;q=0.9,en;q=0.8"},
				"Cookie":            {"privops_session=s3ss10n; theme=dark"},
				"User-Agent":        {"Mozilla/5.0 (X11; Linux x86_64)"},
				"X-Amzn-Trace-Id":   {"Root=1-66a1f2c3-0a1b2c3d4e5f60718293a4b5"},
				"X-Forwarded-For":   {"203.0.113.7"},
				"X-Forwarded-Port":  {"443"},
				"X-Forwarded-Proto": {"https"},
				"X-Privops-Multi":   {"a,b"},
			},
			Cookies:    map[string]string{"privops_session": "s3ss10n", "theme": "dark"},
			Query:      map[string]string{"lang": "de", "ref": "mail link"},
			Invocation: trigger.Invocation{ID: "d0bQ1jIxoAMEVfA=", Function: "portal"},
		},
	}, {
		name:  "POST with a base64 body on a named stage",
		event: "http_post_base64.json",
		want: seen{Method: "POST", Path: "/api/callbacks/demo/task-42", RequestURI: "/api/callbacks/demo/task-42",
			Host: "r4nd0m1d.execute-api.eu-central-1.amazonaws.com", RemoteAddr: "198.51.100.20:0", Proto: "HTTP/1.1",
			Header: http.Header{
				"Authorization":     {"Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"},
				"Content-Type":      {"application/octet-stream"},
				"User-Agent":        {"privops-connector/1.0"},
				"X-Amzn-Trace-Id":   {"Root=1-66a1f2c3-1b2c3d4e5f60718293a4b5c6"},
				"X-Forwarded-For":   {"198.51.100.20"},
				"X-Forwarded-Port":  {"443"},
				"X-Forwarded-Proto": {"https"},
			},
			Cookies: map[string]string{}, Query: map[string]string{},
			Body: zip, ContentLength: int64(len(zip)),
			Invocation: trigger.Invocation{ID: "d0bRkj8YFiAEJKw=", Function: "callback"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got seen
			h, _ := newHost(t, fakes{portal: capture(t, &got), callback: capture(t, &got)}, nil)
			res := invoke[events.APIGatewayV2HTTPResponse](t, h, event(t, tt.event))
			if res.StatusCode != http.StatusNoContent {
				t.Fatalf("status = %d, want 204 (body %q)", res.StatusCode, res.Body)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPRouting(t *testing.T) {
	t.Parallel()
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) })
	}
	f := fakes{portal: named("portal"), admin: named("admin"), openapi: named("openapi"), callback: named("callback")}
	notFound := string(web.ProblemDocument(404, "not-found", "no such endpoint"))
	notAllowed := string(web.ProblemDocument(405, "method-not-allowed", "this endpoint does not support POST"))
	getNotAllowed := string(web.ProblemDocument(405, "method-not-allowed", "this endpoint does not support GET"))
	tests := []struct {
		name                string
		method, path, stage string
		domainPrefix        string
		wantStatus          int
		wantBody, wantAllow string
	}{
		{name: "portal catch-all", method: "GET", path: "/api/portal/requests/new", wantStatus: 200, wantBody: "portal"},
		{name: "bare catch-all prefix", method: "GET", path: "/api/portal", wantStatus: 200, wantBody: "portal"},
		{name: "admin", method: "DELETE", path: "/api/admin/tenants/demo", wantStatus: 200, wantBody: "admin"},
		{name: "exact route", method: "GET", path: "/api/openapi.json", wantStatus: 200, wantBody: "openapi"},
		{name: "no route", method: "GET", path: "/api/nothing", wantStatus: 404, wantBody: notFound},
		{name: "exact route does not match below it", method: "GET", path: "/api/openapi.json/x", wantStatus: 404, wantBody: notFound},
		{name: "method refused", method: "POST", path: "/api/openapi.json", wantStatus: 405, wantBody: notAllowed, wantAllow: "GET"},
		{name: "method refused by callbacks", method: "GET", path: "/api/callbacks/demo/t1", wantStatus: 405, wantBody: getNotAllowed, wantAllow: "POST"},
		{name: "named stage stripped on the execute-api endpoint", method: "GET", path: "/prod/api/portal/x", stage: "prod",
			domainPrefix: "r4nd0m1d", wantStatus: 200, wantBody: "portal"},
		{name: "named stage kept on a custom domain", method: "GET", path: "/prod/api/portal/x", stage: "prod",
			domainPrefix: "privacy", wantStatus: 404, wantBody: notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHost(t, f, nil)
			raw := edited(t, "http_get.json", func(ev *events.APIGatewayV2HTTPRequest) {
				ev.RawPath, ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Method = tt.path, tt.path, tt.method
				ev.RequestContext.APIID = "r4nd0m1d"
				if tt.stage != "" {
					ev.RequestContext.Stage, ev.RequestContext.DomainPrefix = tt.stage, tt.domainPrefix
				}
			})
			res := invoke[events.APIGatewayV2HTTPResponse](t, h, raw)
			got := []any{res.StatusCode, res.Body, res.Headers["Allow"]}
			if diff := cmp.Diff([]any{tt.wantStatus, tt.wantBody, tt.wantAllow}, got); diff != "" {
				t.Errorf("status, body, Allow (-want +got):\n%s", diff)
			}
			if ct := res.Headers["Content-Type"]; tt.wantStatus >= 400 && ct != web.ProblemContentType {
				t.Errorf("Content-Type = %q, want %s", ct, web.ProblemContentType)
			}
		})
	}
}

func TestHTTPResponseToEvent(t *testing.T) {
	t.Parallel()
	zip := []byte{0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    events.APIGatewayV2HTTPResponse
	}{{
		name: "JSON text stays text; repeated headers joined; cookies apart",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Add("Vary", "Origin")
			w.Header().Add("Vary", "Accept-Encoding")
			w.Header().Add("Set-Cookie", "privops_session=n3w; Path=/; HttpOnly; Secure")
			w.Header().Add("Set-Cookie", "theme=light; Path=/")
			w.Header().Set("Content-Length", "14")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"r-1"}`+"\n\n")
		},
		want: events.APIGatewayV2HTTPResponse{StatusCode: 201,
			Headers: map[string]string{"Content-Type": "application/json", "Vary": "Origin, Accept-Encoding"},
			Cookies: []string{"privops_session=n3w; Path=/; HttpOnly; Secure", "theme=light; Path=/"},
			Body:    `{"id":"r-1"}` + "\n\n"},
	}, {
		name: "binary content type is base64",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/zip")
			_, _ = w.Write(zip)
		},
		want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/zip"},
			Body: base64.StdEncoding.EncodeToString(zip), IsBase64Encoded: true},
	}, {
		name: "text content type that is not UTF-8 is base64",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/csv")
			_, _ = w.Write([]byte("name\nM\xfcller\n"))
		},
		want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/csv"},
			Body: base64.StdEncoding.EncodeToString([]byte("name\nM\xfcller\n")), IsBase64Encoded: true},
	}, {
		name: "binary UTF-8 is base64 too",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = io.WriteString(w, "%PDF-1.7")
		},
		want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/pdf"},
			Body: base64.StdEncoding.EncodeToString([]byte("%PDF-1.7")), IsBase64Encoded: true},
	}, {
		name:    "missing content type is detected",
		handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") },
		want: events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			Body: "ok"},
	}, {
		name: "no body; non-canonical header key",
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["x-request-id"] = []string{"abc"}
			w.Header().Set("Location", "/api/portal/done")
			w.WriteHeader(http.StatusSeeOther)
		},
		want: events.APIGatewayV2HTTPResponse{StatusCode: 303,
			Headers: map[string]string{"X-Request-Id": "abc", "Location": "/api/portal/done"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newHost(t, fakes{portal: tt.handler}, nil)
			got := invoke[events.APIGatewayV2HTTPResponse](t, h, event(t, "http_get.json"))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPFailures(t *testing.T) {
	t.Parallel()
	internal := string(web.ProblemDocument(500, "internal", "an internal error occurred; it has been logged"))
	const bodyLen = 27 // the decoded body of http_post_base64.json
	tests := []struct {
		name       string
		opts       []Option
		event      func(testing.TB) []byte
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
		wantCalled bool
		wantLog    string // a message logged at error or warn level
	}{{
		name:       "body over the limit is refused unread",
		opts:       []Option{WithMaxBodyBytes(bodyLen - 1)},
		event:      func(tb testing.TB) []byte { return event(tb, "http_post_base64.json") },
		wantStatus: 413, wantBody: string(web.ProblemDocument(413, "body-too-large", "the body must be at most 26 bytes")),
		wantLog: "request body too large",
	}, {
		name:       "body at the limit is served",
		opts:       []Option{WithMaxBodyBytes(bodyLen)},
		event:      func(tb testing.TB) []byte { return event(tb, "http_post_base64.json") },
		wantStatus: 204, wantCalled: true,
	}, {
		name:  "panic before writing",
		event: func(tb testing.TB) []byte { return event(tb, "http_post_base64.json") },
		handler: func(http.ResponseWriter, *http.Request) {
			panic("boom")
		},
		wantStatus: 500, wantBody: internal, wantCalled: true, wantLog: "http function panicked",
	}, {
		name:  "panic after a partial response replaces it",
		event: func(tb testing.TB) []byte { return event(tb, "http_post_base64.json") },
		handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "half")
			panic(http.ErrAbortHandler)
		},
		wantStatus: 500, wantBody: internal, wantCalled: true, wantLog: "http function panicked",
	}, {
		name:  "response over the limit",
		opts:  []Option{WithMaxBodyBytes(bodyLen)},
		event: func(tb testing.TB) []byte { return event(tb, "http_post_base64.json") },
		handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, strings.Repeat("x", bodyLen+1))
		},
		wantStatus: 500, wantBody: internal, wantCalled: true, wantLog: "encode http response",
	}, {
		name: "body marked base64 that is not",
		event: func(tb testing.TB) []byte {
			return edited(tb, "http_post_base64.json", func(ev *events.APIGatewayV2HTTPRequest) { ev.Body = "not base64!" })
		},
		wantStatus: 500, wantBody: internal, wantLog: "decode http api event",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			handler := func(w http.ResponseWriter, r *http.Request) {
				called = true
				if tt.handler != nil {
					tt.handler(w, r)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}
			h, logs := newHost(t, fakes{callback: http.HandlerFunc(handler)}, nil, tt.opts...)
			res := invoke[events.APIGatewayV2HTTPResponse](t, h, tt.event(t))
			got := []any{res.StatusCode, res.Body, called}
			if diff := cmp.Diff([]any{tt.wantStatus, tt.wantBody, tt.wantCalled}, got); diff != "" {
				t.Errorf("status, body, called (-want +got):\n%s", diff)
			}
			if tt.wantLog != "" && len(logs.find(t, tt.wantLog)) != 1 {
				t.Errorf("want one %q log line; logs:\n%s", tt.wantLog, logs)
			}
			// The bearer token, body and path never reach a log line.
			for _, secret := range []string{"eyJhbGciOiJIUzI1NiJ9", "export-part-1", "task-42"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("logs contain %q:\n%s", secret, logs)
				}
			}
		})
	}
}
