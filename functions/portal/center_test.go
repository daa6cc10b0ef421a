package portal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/functions/portal"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// accepting is a Service whose tenant allows one portal origin, which
// records the submission it is given and answers a fixed request.
type accepting struct {
	refusing
	req *privacy.Request
	got chan dsr.Submission
}

func (a accepting) Tenant(context.Context, string) (*privacy.Tenant, error) {
	return &privacy.Tenant{ID: "acme", PortalOrigins: []string{"https://privacy.acme.example"}}, nil
}
func (a accepting) Submit(_ context.Context, _ string, sub dsr.Submission, _ string, _ dsr.Actor) (*dsr.Submitted, error) {
	a.got <- sub
	return &dsr.Submitted{Request: a.req, Token: "tok"}, nil
}
func (a accepting) Get(context.Context, string, string) (*privacy.Request, error) { return a.req, nil }

func newAccepting() accepting {
	at := time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC)
	return accepting{got: make(chan dsr.Submission, 1), req: &privacy.Request{
		ID: "dsr_1", TenantID: "acme", Type: privacy.TypeErase, Status: privacy.StatusInProgress, Language: privacy.LangSimplifiedChinese,
		ReceivedAt: at, Due: privacy.Due{At: at.AddDate(0, 3, 0), Regime: privacy.RegimeEUGDPR, Rule: "GDPR Art. 12(3)", Extended: true},
		Extension: &privacy.Extension{Reason: "many systems", By: "admin:alice", At: at, NoticedAt: at},
		Pauses:    []privacy.Pause{{From: at, To: at.Add(time.Hour), Reason: "old question"}, {From: at.Add(2 * time.Hour), Reason: "which account?"}},
		Decision:  &privacy.Decision{By: "admin:alice", Reason: "internal note"},
		Tasks: []privacy.Task{{ID: "t1", Service: "crm", ServiceName: "CRM", Status: privacy.TaskDone},
			{ID: "t2", Service: "billing", ServiceName: "Billing", Status: privacy.TaskRunning, Reason: "internal"}},
	}}
}

// TestStatusShowsTheClockAndProgress: the status page's answer names the law
// that sets the deadline, the extension's reason, a pause waiting for the
// subject with its question, and progress as counts; never a service name
// or an approval's note.
func TestStatusShowsTheClockAndProgress(t *testing.T) {
	t.Parallel()
	h := portal.New(portal.Config{MaxBody: 4096, SubmitsPerIP: 10, SubmitsPerMail: 10, VerifiesPerIP: 10}, portal.Deps{Service: newAccepting(), Now: time.Now}).Handler()
	r := httptest.NewRequest(http.MethodGet, "/api/portal/acme/requests/dsr_1", nil)
	r.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "dsr_1", "type": "erase", "status": "in-progress", "language": "zh-Hans",
		"receivedAt": "2030-01-31T10:00:00Z", "dueAt": "2030-05-01T10:00:00Z", "regime": "eu-gdpr", "rule": "GDPR Art. 12(3)",
		"extended": true, "extensionReason": "many systems", "paused": true, "question": "which account?",
		"progress": map[string]any{"total": 2.0, "ended": 1.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	for _, internal := range []string{"CRM", "Billing", "internal", "alice"} {
		if strings.Contains(w.Body.String(), internal) {
			t.Errorf("status shows the tenant's internals: %q in %s", internal, w.Body)
		}
	}
}

// TestPrivacyCenterCallsAreSameOrigin: the privacy center's own page calls
// the portal with an Origin naming this host; that needs no CORS entry
// (it was refused 403 origin-not-allowed). A foreign origin is still refused.
func TestPrivacyCenterCallsAreSameOrigin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, origin, host string
		wantStatus         int
		wantACAO           string
	}{
		{"no origin (curl)", "", "privops.example", 201, ""},
		{"same host, the privacy center", "https://privops.example", "privops.example", 201, ""},
		{"same host behind TLS termination", "https://privops.example", "PRIVOPS.example", 201, ""},
		{"the tenant's portal", "https://privacy.acme.example", "privops.example", 201, "https://privacy.acme.example"},
		{"another site", "https://evil.example", "privops.example", 403, ""},
		{"another port of the host", "https://privops.example:8443", "privops.example", 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := newAccepting()
			h := portal.New(portal.Config{MaxBody: 4096, SubmitsPerIP: 10, SubmitsPerMail: 10, VerifiesPerIP: 10}, portal.Deps{Service: svc, Now: time.Now}).Handler()
			r := httptest.NewRequest(http.MethodPost, "/api/portal/acme/requests", strings.NewReader(`{"type":"access","email":"ada@example.com","country":"DE"}`))
			r.Host = tc.host
			r.Header.Set("Content-Type", "application/json")
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantStatus || w.Header().Get("Access-Control-Allow-Origin") != tc.wantACAO {
				t.Errorf("%d ACAO %q, want %d %q (%s)", w.Code, w.Header().Get("Access-Control-Allow-Origin"), tc.wantStatus, tc.wantACAO, w.Body)
			}
		})
	}
}

// TestSubmissionLanguage: a submission without a language gets the one the
// browser's Accept-Language prefers; the form's own choice wins.
func TestSubmissionLanguage(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, acceptLanguage, want string }{
		{"from Accept-Language", `{"type":"access","email":"ada@example.com","country":"CN"}`, "zh-CN,zh;q=0.9", "zh-Hans"},
		{"no header: English", `{"type":"access","email":"ada@example.com","country":"CN"}`, "", "en"},
		{"the form's choice", `{"type":"access","email":"ada@example.com","country":"CN","language":"en"}`, "zh-CN", "en"},
		// An alias is accepted here and stored as zh-Hans by the service
		// (dsr's TestMailsInTheRequestsLanguage); it was refused with 400.
		{"an alias of the form's tag", `{"type":"access","email":"ada@example.com","country":"CN","language":"zh-CN"}`, "", "zh-CN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := newAccepting()
			h := portal.New(portal.Config{MaxBody: 4096, SubmitsPerIP: 10, SubmitsPerMail: 10, VerifiesPerIP: 10}, portal.Deps{Service: svc, Now: time.Now}).Handler()
			r := httptest.NewRequest(http.MethodPost, "/api/portal/acme/requests", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.acceptLanguage != "" {
				r.Header.Set("Accept-Language", tc.acceptLanguage)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 201 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got := (<-svc.got).Language; got != tc.want {
				t.Errorf("language %q, want %q", got, tc.want)
			}
		})
	}
}
