package azfunc

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// seenRequest is what an HTTP function observed.
type seenRequest struct {
	Method, Host, Path, RawQuery string
	Header                       http.Header
	Body                         string
	ContentLength                int64
	Invocation                   trigger.Invocation
}

// recordingHandler records each request and answers with respond.
type recordingHandler struct {
	mu      sync.Mutex
	seen    []seenRequest
	keep    []string // headers to record
	respond func(w http.ResponseWriter)
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	hdr := http.Header{}
	for _, k := range h.keep {
		if v, ok := r.Header[k]; ok {
			hdr[k] = v
		}
	}
	inv, _ := trigger.InvocationFrom(r.Context())
	h.mu.Lock()
	h.seen = append(h.seen, seenRequest{
		Method: r.Method, Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: hdr, Body: string(body), ContentLength: r.ContentLength, Invocation: inv,
	})
	h.mu.Unlock()
	h.respond(w)
}

func jsonAnswer(status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestPayloadHTTP(t *testing.T) {
	t.Parallel()
	const host = "privops-func.azurewebsites.net"
	tests := []struct {
		name     string
		file     string
		function string
		respond  func(http.ResponseWriter)
		wantReq  seenRequest
		wantOut  httpOutput
	}{
		{
			name: "GET with query and repeated header", file: "http_get.json", function: "portal",
			respond: jsonAnswer(http.StatusOK, `{"status":"received"}`),
			wantReq: seenRequest{
				Method: "GET", Host: host, Path: "/api/portal/requests/status",
				RawQuery: "code=FUNCTIONKEY-abc123==&token=tok-7Qx",
				Header:   http.Header{"Accept-Language": {"de-DE,de;q=0.9", "en;q=0.5"}, "Accept": {"application/json"}},
			},
			wantOut: httpOutput{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}, Body: `{"status":"received"}`},
		},
		{
			name: "POST with a JSON body", file: "http_post_json.json", function: "portal",
			respond: jsonAnswer(http.StatusAccepted, `{"token":"tok-1"}`),
			wantReq: seenRequest{
				Method: "POST", Host: host, Path: "/api/portal/requests", RawQuery: "code=FUNCTIONKEY-abc123==",
				Header:        http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Accept": {"*/*"}},
				Body:          `{"type":"erase","email":"ada@example.org","tenant":"acme"}`,
				ContentLength: 58,
			},
			wantOut: httpOutput{StatusCode: 202, Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}, Body: `{"token":"tok-1"}`},
		},
		{
			name: "POST with an octet-stream body", file: "http_post_octet.json", function: "admin",
			respond: func(w http.ResponseWriter) { _, _ = io.WriteString(w, "imported") },
			wantReq: seenRequest{
				Method: "POST", Host: host, Path: "/api/admin/imports", RawQuery: "code=FUNCTIONKEY-abc123==",
				Header:        http.Header{"Content-Type": {"application/octet-stream"}, "Authorization": {"Bearer eyJhbGciOi.fake.sig"}},
				Body:          "PK\x03\x04\x00\xff\xfe\n\"\\",
				ContentLength: 10,
			},
			// No WriteHeader, no Content-Type: 200 and a sniffed type, as net/http would.
			wantOut: httpOutput{StatusCode: 200, Headers: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, Body: "imported"},
		},
		{
			name: "a 4xx from the function reaches the host as 200", file: "http_post_json.json", function: "portal",
			respond: jsonAnswer(http.StatusBadRequest, `{"code":"email_required","message":"email is required"}`),
			wantReq: seenRequest{
				Method: "POST", Host: host, Path: "/api/portal/requests", RawQuery: "code=FUNCTIONKEY-abc123==",
				Header:        http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Accept": {"*/*"}},
				Body:          `{"type":"erase","email":"ada@example.org","tenant":"acme"}`,
				ContentLength: 58,
			},
			wantOut: httpOutput{StatusCode: 400, Headers: map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"}, Body: `{"code":"email_required","message":"email is required"}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fn := &recordingHandler{respond: tc.respond, keep: []string{"Accept", "Accept-Language", "Content-Type", "Authorization"}}
			f := fakes{}
			if tc.function == "portal" {
				f.portal = fn
			} else {
				f.admin = fn
			}
			h := newHandler(t, f)

			w := invoke(t, h, tc.function, payload(t, tc.file), "inv-1")
			if w.Code != http.StatusOK {
				t.Fatalf("status to the host = %d, want 200 (body %s)", w.Code, w.Body)
			}
			got := httpOut(t, decodeReply(t, w))
			if diff := cmp.Diff(tc.wantOut, got); diff != "" {
				t.Errorf("Outputs.res (-want +got):\n%s", diff)
			}
			tc.wantReq.Invocation = trigger.Invocation{ID: "inv-1", Function: tc.function}
			if diff := cmp.Diff([]seenRequest{tc.wantReq}, fn.seen); diff != "" {
				t.Errorf("request seen by the function (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPayloadHTTPFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		portal     http.HandlerFunc
		opts       []Option
		wantHost   int
		wantStatus int // Outputs.res.statusCode when wantHost is 200
	}{
		// Every failure of an HTTP invocation answers its caller with a
		// problem+json 500 through the output binding: a failed invocation
		// would reach the caller as the host's own 500, in no shape of ours.
		{
			name:       "panic answers a problem",
			body:       string(payload(t, "http_get.json")),
			portal:     func(http.ResponseWriter, *http.Request) { panic("boom") },
			wantHost:   http.StatusOK,
			wantStatus: http.StatusInternalServerError,
		},
		{
			name: "binary response cannot travel in payload mode",
			body: string(payload(t, "http_get.json")),
			portal: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/zip")
				_, _ = w.Write([]byte{0x50, 0x4b, 0xff, 0xfe})
			},
			wantHost: http.StatusOK, wantStatus: http.StatusInternalServerError,
		},
		{
			name:     "no trigger data",
			body:     `{"Data":{},"Metadata":{}}`,
			wantHost: http.StatusOK, wantStatus: http.StatusInternalServerError,
		},
		{
			name:     "not JSON",
			body:     `{"Data":`,
			wantHost: http.StatusOK, wantStatus: http.StatusInternalServerError,
		},
		{
			name:       "payload over the limit is the caller's 413",
			body:       string(payload(t, "http_post_json.json")),
			opts:       []Option{WithMaxBodyBytes(100)},
			wantHost:   http.StatusOK,
			wantStatus: http.StatusRequestEntityTooLarge,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fakes{}
			if tc.portal != nil {
				f.portal = tc.portal
			}
			w := invoke(t, newHandler(t, f, tc.opts...), "portal", []byte(tc.body), "inv-2")
			if w.Code != tc.wantHost {
				t.Fatalf("status to the host = %d, want %d", w.Code, tc.wantHost)
			}
			r := decodeReply(t, w)
			if tc.wantHost == http.StatusOK {
				out := httpOut(t, r)
				if out.StatusCode != tc.wantStatus {
					t.Errorf("Outputs.res.statusCode = %d, want %d", out.StatusCode, tc.wantStatus)
				}
				if ct := out.Headers["Content-Type"]; ct != "application/problem+json" || !strings.Contains(out.Body, `"status":`) {
					t.Errorf("Outputs.res = %s %s, want a problem document", ct, out.Body)
				}
			}
		})
	}
}

func TestPayloadHTTPReturnValue(t *testing.T) {
	t.Parallel()
	s := []funcjson.Spec{{Name: "portal", Kind: funcjson.KindHTTP, Route: "portal/{*path}", TriggerName: "req", OutputName: "$return"}}
	fn := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	h, err := New([]trigger.Function{{Name: "portal", HTTP: fn}}, s, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w := invoke(t, h, "portal", payload(t, "http_get.json"), "inv-3")
	r := decodeReply(t, w)
	if len(r.Outputs) != 0 {
		t.Errorf("Outputs = %v, want none with a $return binding", r.Outputs)
	}
	if !strings.Contains(string(r.ReturnValue), `"statusCode":404`) {
		t.Errorf("ReturnValue = %s, want the http response with statusCode 404", r.ReturnValue)
	}
}
