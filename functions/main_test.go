package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/callback"
	"github.com/privops/privops/functions/certificates"
	"github.com/privops/privops/functions/notice"
	"github.com/privops/privops/functions/openapi"
	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/blob"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

var devKey = bytes.Repeat([]byte{7}, 32)

// mailbox captures mails.
type mailbox struct {
	mu   sync.Mutex
	sent []privacy.Mail
}

func (m *mailbox) Send(_ context.Context, mail privacy.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, mail)
	return nil
}

func (m *mailbox) count() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.sent) }

var codeRe = regexp.MustCompile(`Your code is (\d{6})`)

func (m *mailbox) lastCode(tb testing.TB) string {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if c := codeRe.FindStringSubmatch(m.sent[i].Text); c != nil {
			return c[1]
		}
	}
	tb.Fatal("no code mailed")
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// testApp is the suite wired to in-memory adapters, served by httptest.
type testApp struct {
	*app
	store *inmem.Store
	queue *inmem.Queue
	mail  *mailbox
	logs  *syncBuffer
	srv   *httptest.Server
	now   time.Time
}

// newTestApp wires the suite on in-memory adapters with the tenants demo, acme
// and globex. Admin tokens are checked by the HS256 dev verifier (tokens from
// ta.token), or by verifier when one is given.
func newTestApp(tb testing.TB, verifier ...auth.Verifier) *testApp {
	tb.Helper()
	return newTestAppWith(tb, nil, verifier...)
}

// newTestAppWith is newTestApp with adapters changed by with (nil: none)
// before the suite is wired on them.
func newTestAppWith(tb testing.TB, with func(*adapters), verifier ...auth.Verifier) *testApp {
	tb.Helper()
	cfg, err := config.Load()
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DataDir = tb.TempDir()
	ta := &testApp{store: inmem.NewStore(), mail: &mailbox{}, logs: &syncBuffer{}, now: time.Now()}
	ta.queue = inmem.NewQueue(inmem.QueueOptions{})
	ta.app = &app{cfg: cfg, log: logging.New(ta.logs, "debug"), secrets: config.Secrets{Root: bytes.Repeat([]byte{9}, 32), DevJWT: devKey}}
	var v auth.Verifier
	if len(verifier) > 0 {
		v = verifier[0]
	} else if v, err = auth.NewHS256(devKey, cfg.AuthIssuer, cfg.AuthAudience, time.Now); err != nil {
		tb.Fatal(err)
	}
	blobs, err := blob.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	ad := adapters{store: ta.store, publisher: ta.queue, mailer: ta.mail, verifier: v, blobs: blobs, now: time.Now}
	if with != nil {
		with(&ad)
	}
	err = ta.wire(ad)
	if err != nil {
		tb.Fatal(err)
	}
	for _, t := range []*privacy.Tenant{demoTenant(), {ID: "acme", Name: "Acme", Regimes: privacy.Regimes, TimeZone: "Europe/Berlin",
		PortalOrigins: []string{"https://privacy.acme.example"}, PIPLDays: 30, DefaultDays: 30}, {ID: "globex", Name: "Globex",
		Regimes: privacy.Regimes, TimeZone: "UTC", PIPLDays: 30, DefaultDays: 30}} {
		if _, err := ta.svc.EnsureTenant(context.Background(), t); err != nil {
			tb.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	for _, f := range ta.funcs {
		switch f.Name {
		case "portal":
			mux.Handle("/api/portal/", f.HTTP)
		case "admin":
			mux.Handle("/api/admin/", f.HTTP)
		case "openapi":
			mux.Handle("/api/openapi.json", f.HTTP)
		case "operator":
			mux.Handle("/api/operator/", f.HTTP)
		case "breachack":
			mux.Handle("/api/breach/", f.HTTP)
		}
	}
	ta.srv = httptest.NewServer(mux)
	tb.Cleanup(ta.srv.Close)
	return ta
}

func (ta *testApp) token(tb testing.TB, tenant, role string, ttl time.Duration, key []byte) string {
	tb.Helper()
	issued := time.Now()
	if ttl < 0 { // an expired token: issued long enough ago to be past the leeway
		issued, ttl = issued.Add(ttl-2*auth.Leeway), -ttl
	}
	tok, err := auth.Mint(key, auth.Claims{Subject: "alice", TenantID: tenant, Roles: []string{role}},
		ta.cfg.AuthIssuer, ta.cfg.AuthAudience, issued, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

type call struct {
	method, path, body string
	header             map[string]string
}

type reply struct {
	text   string
	status int
	code   string
	body   map[string]any
	header http.Header
}

func (ta *testApp) do(tb testing.TB, c call) reply {
	tb.Helper()
	req, err := http.NewRequest(c.method, ta.srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		tb.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, text: string(b)}
	_ = json.Unmarshal(b, &r.body)
	if s, ok := r.body["code"].(string); ok {
		r.code = s
	}
	return r
}

// submit submits a portal request and returns its id and token.
func (ta *testApp) submit(tb testing.TB, tenant, email string) (string, string) {
	tb.Helper()
	r := ta.do(tb, call{method: "POST", path: "/api/portal/" + tenant + "/requests",
		body: `{"type":"access","email":"` + email + `","country":"DE"}`})
	if r.status != http.StatusCreated {
		tb.Fatalf("submit: %d %v", r.status, r.body)
	}
	return r.body["id"].(string), r.body["token"].(string)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// snapshot counts everything the API could write.
func (ta *testApp) snapshot(tb testing.TB) [4]int {
	tb.Helper()
	var s [4]int
	for i, tenant := range []string{"acme", "globex"} {
		page, err := ta.store.ListRequests(context.Background(), tenant, privacy.RequestFilter{Limit: 200})
		if err != nil {
			tb.Fatal(err)
		}
		evs, _ := ta.store.ListAudit(context.Background(), tenant, 0, 1000)
		s[i] = len(page.Requests)*1000 + len(evs)
		for _, r := range page.Requests {
			s[2] += r.Verification.Attempts + len(r.Notices)
			if r.Status != privacy.StatusAwaitingVerification {
				s[2] += 100
			}
		}
	}
	s[3] = ta.mail.count()
	return s
}

func TestFunctionFoldersMatchRegisteredHandlers(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var folders, handlers []string
	for _, e := range entries {
		if _, err := os.Stat(e.Name() + "/function.json"); e.IsDir() && err == nil {
			folders = append(folders, e.Name())
		}
	}
	for _, f := range ta.funcs {
		handlers = append(handlers, f.Name)
		kinds := 0
		for _, set := range []bool{f.HTTP != nil, f.Queue != nil, f.Timer != nil, f.Documents != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			t.Errorf("function %s has %d handler kinds, want 1", f.Name, kinds)
		}
	}
	sort.Strings(handlers)
	if diff := cmp.Diff(folders, handlers); diff != "" {
		t.Errorf("function folders vs registered handlers (-folders +handlers):\n%s", diff)
	}
	for _, s := range ta.specs {
		f := ta.funcs[slices.IndexFunc(ta.funcs, func(f trigger.Function) bool { return f.Name == s.Name })]
		if (s.Kind == "http") != (f.HTTP != nil) || (s.Kind == "queue") != (f.Queue != nil) || (s.Kind == "timer") != (f.Timer != nil) ||
			(s.Kind == "documents") != (f.Documents != nil) {
			t.Errorf("function %s: function.json kind %s does not match its handler", s.Name, s.Kind)
		}
	}
}

func TestOpenAPIListsExactlyTheRoutes(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var documented, registered []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	registered = append(registered, "GET /api/openapi.json")
	// The callback endpoint is part of the contract too: services post to it.
	callbacks := callback.New(callback.Config{}, callback.Deps{}).Routes()
	for _, rt := range slices.Concat(ta.portal.Routes(), ta.admin.Routes(), ta.oper.Routes(), certificates.New(nil).Routes(), callbacks, ta.breachAck().Routes(),
		notice.New(notice.Deps{}).Routes()) {
		registered = append(registered, rt.Method+" "+rt.Pattern)
	}
	sort.Strings(documented)
	sort.Strings(registered)
	if diff := cmp.Diff(documented, registered); diff != "" {
		t.Errorf("OpenAPI operations vs registered routes (-documented +registered):\n%s", diff)
	}
	r := ta.do(t, call{method: "GET", path: "/api/openapi.json"})
	if r.status != 200 || r.body["openapi"] != "3.1.0" {
		t.Errorf("GET /api/openapi.json: %d", r.status)
	}
}

func TestHappyPathOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	id, tok := ta.submit(t, "acme", "ada@example.com")
	if r := ta.do(t, call{method: "GET", path: "/api/portal/acme/requests/" + id, header: bearer(tok)}); r.status != 200 || r.body["status"] != "awaiting-verification" {
		t.Fatalf("status: %d %v", r.status, r.body)
	}
	r := ta.do(t, call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok),
		body: `{"code":"` + ta.mail.lastCode(t) + `"}`})
	if r.status != 200 || r.body["status"] != "awaiting-decision" {
		t.Fatalf("verify: %d %v", r.status, r.body)
	}
	admin := bearer(ta.token(t, "acme", auth.RoleApprover, time.Hour, devKey))
	// acme has no services: nothing holds the subject's data, so the approval
	// completes the request at once.
	if r := ta.do(t, call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: admin}); r.status != 200 || r.body["status"] != "completed" {
		t.Fatalf("approve: %d %v", r.status, r.body)
	}
	list := ta.do(t, call{method: "GET", path: "/api/admin/acme/requests?status=completed", header: admin})
	if reqs, _ := list.body["requests"].([]any); list.status != 200 || len(reqs) != 1 {
		t.Fatalf("list: %d %v", list.status, list.body)
	}
	viewer := bearer(ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey))
	v := ta.do(t, call{method: "GET", path: "/api/admin/acme/audit/verify", header: viewer})
	if v.status != 200 || v.body["valid"] != true {
		t.Fatalf("audit verify: %d %v", v.status, v.body)
	}
	a := ta.do(t, call{method: "GET", path: "/api/admin/acme/audit", header: viewer})
	evs, _ := a.body["events"].([]any)
	if len(evs) < 4 {
		t.Errorf("audit has %d events, want at least 4", len(evs))
	}
	if strings.Contains(ta.logs.String(), "ada@example.com") {
		t.Error("logs contain the subject's email")
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	id, tok := ta.submit(t, "acme", "bob@example.com")
	code := ta.mail.lastCode(t)
	if r := ta.do(t, call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok), body: `{"code":"` + code + `"}`}); r.status != 200 {
		t.Fatalf("verify: %d", r.status)
	}
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	cases := []struct {
		name       string
		c          call
		wantStatus int
		wantCode   string
	}{
		{"malformed json", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":`}, 400, "malformed-json"},
		{"unknown field", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"a@b.co","country":"DE","admin":true}`}, 400, "unknown-field"},
		{"two objects", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"a@b.co","country":"DE"}{}`}, 400, "malformed-json"},
		{"wrong field type", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":1,"email":"a@b.co","country":"DE"}`}, 400, "invalid-field"},
		{"oversized", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"a@b.co","country":"DE","region":"` + strings.Repeat("x", 20000) + `"}`}, 413, "body-too-large"},
		{"wrong content type", call{method: "POST", path: "/api/portal/acme/requests", body: `x`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported-media-type"},
		{"bad email", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"nope","country":"DE"}`}, 400, "invalid-email"},
		{"unknown tenant", call{method: "POST", path: "/api/portal/initech/requests", body: `{"type":"access","email":"a@b.co","country":"DE"}`}, 404, "unknown-tenant"},
		{"foreign origin", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"a@b.co","country":"DE"}`, header: map[string]string{"Origin": "https://evil.example"}}, 403, "origin-not-allowed"},
		{"status without token", call{method: "GET", path: "/api/portal/acme/requests/" + id}, 404, "unknown-request"},
		{"status with another tenant", call{method: "GET", path: "/api/portal/globex/requests/" + id, header: bearer(tok)}, 404, "unknown-request"},
		{"replayed code", call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok), body: `{"code":"` + code + `"}`}, 409, "already-verified"},
		{"admin without token", call{method: "GET", path: "/api/admin/acme/requests"}, 401, "missing-token"},
		{"admin forged token", call{method: "GET", path: "/api/admin/acme/requests", header: bearer(ta.token(t, "acme", auth.RoleAdmin, time.Hour, bytes.Repeat([]byte{8}, 32)))}, 401, "invalid-token"},
		{"admin expired token", call{method: "GET", path: "/api/admin/acme/requests", header: bearer(ta.token(t, "acme", auth.RoleAdmin, -time.Hour, devKey))}, 401, "token-expired"},
		{"admin wrong tenant", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: bearer(ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey))}, 404, "unknown-tenant"},
		{"admin wrong tenant reads", call{method: "GET", path: "/api/admin/acme/requests/" + id, header: bearer(ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey))}, 404, "unknown-tenant"},
		{"admin other tenant's request", call{method: "POST", path: "/api/admin/globex/requests/" + id + "/approve", header: bearer(ta.token(t, "globex", auth.RoleAdmin, time.Hour, devKey))}, 404, "unknown-request"},
		{"viewer approves", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: bearer(ta.token(t, "acme", auth.RoleViewer, time.Hour, devKey))}, 403, "forbidden-role"},
		{"deny without reason", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: bearer(admin), body: `{}`}, 400, "reason-required"},
		{"deny with no body", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: bearer(admin)}, 400, "reason-required"},
		{"extend with no body", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/extend", header: bearer(admin)}, 400, "reason-required"},
		{"deny with a null body", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: bearer(admin), body: `null`}, 400, "null-body"},
		{"deny with a duplicate reason", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: bearer(admin), body: `{"reason":"","Reason":"fraud"}`}, 400, "duplicate-key"},
		{"deny with a control character", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: bearer(admin), body: `{"reason":"manifestly unfounded\u001b[2J"}`}, 400, "invalid-text"},
		{"deny with a lone surrogate", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: bearer(admin), body: `{"reason":"unfounded \ud800"}`}, 400, "invalid-text"},
		{"deny with invalid UTF-8", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/deny", header: bearer(admin), body: "{\"reason\":\"unfounded \xff\"}"}, 400, "invalid-utf8"},
		{"approve with a body", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/approve", header: bearer(admin), body: `{"reason":"looks fine"}`}, 400, "unexpected-body"},
		{"resend with a body", call{method: "POST", path: "/api/portal/acme/requests/" + id + "/resend", header: bearer(tok), body: `{"email":"other@example.com"}`}, 400, "unexpected-body"},
		{"submit with a duplicate email", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"a@b.co","email":"c@d.co","country":"DE"}`}, 400, "duplicate-key"},
		{"submit null", call{method: "POST", path: "/api/portal/acme/requests", body: `null`}, 400, "null-body"},
		{"submit with no body", call{method: "POST", path: "/api/portal/acme/requests"}, 400, "empty-body"},
		{"submit for a country that is not one", call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"access","email":"a@b.co","country":"XX"}`}, 400, "invalid-country"},
		{"extend malformed", call{method: "POST", path: "/api/admin/acme/requests/" + id + "/extend", header: bearer(admin), body: `[`}, 400, "malformed-json"},
		{"bad limit", call{method: "GET", path: "/api/admin/acme/requests?limit=0", header: bearer(admin)}, 400, "invalid-limit"},
		{"bad cursor", call{method: "GET", path: "/api/admin/acme/requests?cursor=not-a-cursor", header: bearer(admin)}, 400, "invalid-cursor"},
		{"bad status filter", call{method: "GET", path: "/api/admin/acme/requests?status=lost", header: bearer(admin)}, 400, "invalid-filter"},
		{"unknown endpoint", call{method: "GET", path: "/api/admin/acme/nothing", header: bearer(admin)}, 404, "not-found"},
		{"method the admin route does not take", call{method: "DELETE", path: "/api/admin/acme/requests", header: bearer(admin)}, 405, "method-not-allowed"},
		{"method the portal route does not take", call{method: "PUT", path: "/api/portal/acme/requests/" + id, header: bearer(tok)}, 405, "method-not-allowed"},
		{"method the OpenAPI document does not take", call{method: "POST", path: "/api/openapi.json", body: `{}`}, 405, "method-not-allowed"},
		{"unknown portal endpoint", call{method: "GET", path: "/api/portal/acme/nothing"}, 404, "not-found"},
		{"bad settings", call{method: "PUT", path: "/api/admin/acme/settings", header: bearer(admin), body: `{"name":"A","timeZone":"Mars/Olympus","piplDays":30,"defaultDays":30}`}, 422, "invalid-tenant"},
		{"stale settings etag", call{method: "PUT", path: "/api/admin/acme/settings", header: map[string]string{"Authorization": "Bearer " + admin, "If-Match": `"stale"`}, body: `{"name":"A","timeZone":"UTC","piplDays":30,"defaultDays":30}`}, 412, "etag-mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ta.snapshot(t)
			r := ta.do(t, tc.c)
			if r.status != tc.wantStatus || r.code != tc.wantCode {
				t.Errorf("got %d %q, want %d %q (%v)", r.status, r.code, tc.wantStatus, tc.wantCode, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			if after := ta.snapshot(t); after != before {
				t.Errorf("bad input changed state: %v → %v", before, after)
			}
		})
	}
}

func TestTooManyAttemptsAndRateLimits(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	id, tok := ta.submit(t, "acme", "carol@example.com")
	right := ta.mail.lastCode(t)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	var got []int
	for range 6 {
		got = append(got, ta.do(t, call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok), body: `{"code":"` + wrong + `"}`}).status)
	}
	if diff := cmp.Diff([]int{422, 422, 422, 422, 422, 429}, got); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	if r := ta.do(t, call{method: "POST", path: "/api/portal/acme/requests/" + id + "/verify", header: bearer(tok), body: `{"code":"` + right + `"}`}); r.status != 429 || r.code != "too-many-attempts" {
		t.Errorf("right code after lockout: %d %q", r.status, r.code)
	}
	// Per-address limit: RATE_SUBMIT_PER_EMAIL submissions an hour.
	var last reply
	for range ta.cfg.RateSubmitPerEmail + 1 {
		last = ta.do(t, call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"erase","email":"dave@example.com","country":"FR"}`})
	}
	if last.status != 429 || last.code != "rate-limited" || last.header.Get("Retry-After") == "" {
		t.Errorf("after the per-address limit: %d %q", last.status, last.code)
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	r := ta.do(t, call{method: "OPTIONS", path: "/api/portal/acme/requests", header: map[string]string{"Origin": "https://privacy.acme.example"}})
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://privacy.acme.example" || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	// The allow-list is per tenant: acme's origin is foreign to globex.
	if r := ta.do(t, call{method: "OPTIONS", path: "/api/portal/globex/requests", header: map[string]string{"Origin": "https://privacy.acme.example"}}); r.status != 403 {
		t.Errorf("cross-tenant origin: %d", r.status)
	}
}

func TestIdempotencyKeyOverHTTP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	c := call{method: "POST", path: "/api/portal/acme/requests", body: `{"type":"export","email":"erin@example.com","country":"GB"}`,
		header: map[string]string{"Idempotency-Key": "form-42"}}
	first, second := ta.do(t, c), ta.do(t, c)
	if first.status != 201 || second.status != 200 || first.body["id"] != second.body["id"] || first.body["token"] != second.body["token"] {
		t.Errorf("first %d %v, second %d %v", first.status, first.body["id"], second.status, second.body["id"])
	}
	c.body = `{"type":"erase","email":"erin@example.com","country":"GB"}`
	if r := ta.do(t, c); r.status != 409 || r.code != "idempotency-key-reused" {
		t.Errorf("reused key: %d %q", r.status, r.code)
	}
	if n := ta.mail.count(); n != 1 {
		t.Errorf("%d code mails, want 1", n)
	}
}
