package cosmos

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/privops/privops/shared/privacy"
)

// These tests need no Cosmos: they cover what the adapter decides on its own.

func TestTranslate(t *testing.T) {
	t.Parallel()
	sdkErr := func(status int, code string) error {
		return &azcore.ResponseError{StatusCode: status, ErrorCode: code,
			RawResponse: &http.Response{StatusCode: status, Header: http.Header{}}}
	}
	tests := []struct {
		name string
		err  error
		want error // sentinel; nil: none of them
	}{
		{"not found", sdkErr(404, "NotFound"), privacy.ErrNotFound},
		{"id exists", sdkErr(409, "Conflict"), privacy.ErrConflict},
		{"etag moved", sdkErr(412, "PreconditionFailed"), privacy.ErrConflict},
		{"throttled", sdkErr(429, "TooManyRequests"), privacy.ErrUnavailable},
		{"retry with", sdkErr(449, "RetryWith"), privacy.ErrUnavailable},
		{"unavailable", sdkErr(503, "ServiceUnavailable"), privacy.ErrUnavailable},
		{"request timeout", sdkErr(408, "RequestTimeout"), privacy.ErrUnavailable},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), privacy.ErrUnavailable},
		{"bad request", sdkErr(400, "BadRequest"), nil},
		{"forbidden", sdkErr(403, "Forbidden"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := translate(tt.err)
			for _, s := range []error{privacy.ErrNotFound, privacy.ErrConflict, privacy.ErrUnavailable} {
				if errors.Is(got, s) != (s == tt.want) {
					t.Errorf("translate(%v) = %v; wraps %v: %t, want %t", tt.err, got, s, errors.Is(got, s), s == tt.want)
				}
			}
			var re *azcore.ResponseError
			if statusOf(tt.err) != 0 && !errors.As(got, &re) {
				t.Errorf("translate dropped the SDK error from the chain: %v", got)
			}
		})
	}
	if translate(nil) != nil {
		t.Error("translate(nil) is not nil")
	}
}

// TestThrottleHint: a throttled answer carries Cosmos's wait to the HTTP edge,
// which sends it as Retry-After.
func TestThrottleHint(t *testing.T) {
	t.Parallel()
	throttled := func(header string) error {
		h := http.Header{}
		if header != "" {
			h.Set("x-ms-retry-after-ms", header)
		}
		return &azcore.ResponseError{StatusCode: 429, ErrorCode: "TooManyRequests", RawResponse: &http.Response{StatusCode: 429, Header: h}}
	}
	cases := []struct {
		header string
		want   time.Duration
	}{
		{"1500", 1500 * time.Millisecond}, {"", 0}, {"soon", 0}, {"-5", 0}, {"86400000", time.Hour},
	}
	for _, tc := range cases {
		var later interface{ RetryAfter() time.Duration }
		got := time.Duration(-1)
		if errors.As(translate(throttled(tc.header)), &later) {
			got = later.RetryAfter()
		}
		if got != tc.want {
			t.Errorf("x-ms-retry-after-ms %q: RetryAfter = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// TestErrorTextHasNoBody: the SDK's error text quotes the response body; the
// translated error does not, so nothing a document holds reaches a log.
func TestErrorTextHasNoBody(t *testing.T) {
	t.Parallel()
	body := `{"code":"BadRequest","message":"subject@example.org is invalid"}`
	resp := &http.Response{StatusCode: 400, Status: "400 Bad Request", Header: http.Header{},
		Body:    io.NopCloser(strings.NewReader(body)),
		Request: &http.Request{Method: "POST", URL: mustURL(t, "https://acct.example/dbs/x")}}
	sdk := runtime.NewResponseError(resp)
	if !strings.Contains(sdk.Error(), "subject@example.org") {
		t.Fatalf("the SDK's text no longer quotes the body; the test checks nothing: %q", sdk.Error())
	}
	got := translate(sdk).Error()
	if got != "cosmos answered 400 (BadRequest)" {
		t.Fatalf("error text %q", got)
	}
}

func TestShouldRetry(t *testing.T) {
	t.Parallel()
	get := &http.Request{Method: http.MethodGet, Header: http.Header{}}
	write := &http.Request{Method: http.MethodPost, Header: http.Header{}}
	query := &http.Request{Method: http.MethodPost, Header: http.Header{"X-Ms-Documentdb-Query": {"True"}, "Content-Type": {"application/query+json"}}}
	replace := &http.Request{Method: http.MethodPut, Header: http.Header{}}
	tests := []struct {
		status int
		req    *http.Request
		want   bool
	}{
		{429, write, true}, {429, replace, true}, {449, write, true}, {429, get, true},
		{503, get, true}, {503, query, true}, {503, write, false}, {503, replace, false},
		{408, get, true}, {408, write, false}, {500, get, true}, {500, write, false},
		{404, get, false}, {409, write, false}, {412, replace, false}, {400, query, false},
	}
	for _, tt := range tests {
		resp := &http.Response{StatusCode: tt.status, Request: tt.req}
		if got := shouldRetry(resp, nil); got != tt.want {
			t.Errorf("shouldRetry(%d %s) = %t, want %t", tt.status, tt.req.Method, got, tt.want)
		}
	}
	if shouldRetry(nil, errors.New("connection reset")) {
		t.Error("a transport error is retried above the Cosmos policy")
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	listing := listingKey("acme", privacy.RequestFilter{Status: privacy.StatusApproved})
	c := encodeCursor(listing, `{"token":"+RID:abc#RT:1","range":{"min":"","max":"FF"}}`)
	tok, err := decodeCursor(c, listing)
	if err != nil || tok != `{"token":"+RID:abc#RT:1","range":{"min":"","max":"FF"}}` {
		t.Fatalf("round trip: %q, %v", tok, err)
	}
	other := listingKey("acme", privacy.RequestFilter{})
	raw, _ := base64.RawURLEncoding.DecodeString(c)
	for name, bad := range map[string]string{
		"another filter": c, // checked against other below
		"truncated":      c[:len(c)/2],
		"appended":       c + "garbage",
		"not base64":     "%%%",
		"empty object":   base64.RawURLEncoding.EncodeToString([]byte("{}")),
		"altered token":  base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "abc", "abd", 1))),
		"unknown field":  base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), `{"v"`, `{"x":1,"v"`, 1))),
		"too long":       strings.Repeat("A", maxCursor+1),
	} {
		l := listing
		if name == "another filter" {
			l = other
		}
		_, err := decodeCursor(bad, l)
		if e, ok := privacy.AsError(err); !ok || e.Kind != privacy.KindInvalid || e.Code != "invalid-cursor" {
			t.Errorf("%s: error %v, want invalid-cursor", name, err)
		}
	}
}

func TestRequestDocIndexFields(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 31, 2, 0, 0, 123456789, time.UTC)
	r := &privacy.Request{ID: "r1", TenantID: "acme", Status: privacy.StatusApproved, CreatedAt: at,
		Due:    privacy.Due{At: at.AddDate(0, 1, 0)},
		Outbox: []privacy.OutboxEvent{{ID: "b", At: at.Add(time.Minute)}, {ID: "a", At: at}}}
	d := newRequestDoc(r)
	if d.ListKey != timeKey(at)+"|r1" || d.OutboxSince != timeKey(at) || d.OpenDueAt != timeKey(r.Due.At) {
		t.Fatalf("index fields %+v", d)
	}
	r.Status, r.Outbox = privacy.StatusCompleted, nil
	if d := newRequestDoc(r); d.OutboxSince != "" || d.OpenDueAt != "" {
		t.Fatalf("terminal request without outbox has index fields %q %q", d.OutboxSince, d.OpenDueAt)
	}
	// String order is time order, to the nanosecond and across digit counts.
	times := []time.Time{time.Unix(0, 0), at, at.Add(time.Nanosecond), at.Add(100 * time.Millisecond), at.AddDate(200, 0, 0)}
	keys := make([]string, len(times))
	for i, tm := range times {
		keys[i] = timeKey(tm)
	}
	if !slices.IsSorted(keys) {
		t.Fatalf("time keys out of order: %v", keys)
	}
	if timeKey(time.Time{}) != timeKey(time.Unix(0, 0)) {
		t.Fatal("the zero time does not count as 1970")
	}
}

// TestAdapterFieldsAreFree keeps the stored documents unambiguous: the fields
// the adapter adds must not be (or become) fields of the domain's documents.
func TestAdapterFieldsAreFree(t *testing.T) {
	t.Parallel()
	for _, v := range []any{privacy.Request{}, privacy.Tenant{}, privacy.InboundRecord{}} {
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "tenantId" && rt != reflect.TypeOf(privacy.Tenant{}) {
				continue // the document's own tenant id is the partition key
			}
			if slices.Contains(adapterFields, name) {
				t.Errorf("%s.%s uses the adapter's field name %q", rt.Name(), rt.Field(i).Name, name)
			}
		}
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{"dsr_0a1b": true, "req-01": true, "": false, "a/b": false,
		`a\b`: false, "a?b": false, "a#b": false, strings.Repeat("x", 256): false} {
		if validID(id) != want {
			t.Errorf("validID(%q) = %t", id, !want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no endpoint":                   {Auth: AuthKey, Key: emulatorKey},
		"no key":                        {Endpoint: "https://acct.example/", Auth: AuthKey},
		"bad key":                       {Endpoint: "https://acct.example/", Auth: AuthKey, Key: "not base64!"},
		"bad auth":                      {Endpoint: "https://acct.example/", Auth: "password"},
		"identity without a credential": {Endpoint: "https://acct.example/", Auth: AuthIdentity},
	} {
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if strings.Contains(err.Error(), emulatorKey) {
			t.Errorf("%s: error quotes the key", name)
		}
	}
	for _, cfg := range []Config{
		{Endpoint: "https://acct.example/", Auth: AuthKey, Key: emulatorKey},
		{Endpoint: "https://acct.example/", Auth: AuthIdentity, Credential: refusingCredential{}}, // the credential is only used on the first call
	} {
		s, err := New(cfg)
		if err != nil {
			t.Fatalf("New with %s auth: %v", cfg.Auth, err)
		}
		s.Close()
	}
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// refusingCredential fails every token request: New must not call it.
type refusingCredential struct{}

func (refusingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no token in this test")
}
