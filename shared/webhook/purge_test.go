package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// purgeService is a webhook service that records the raw purge calls it gets
// and answers with answer.
type purgeService struct {
	srv    *httptest.Server
	answer http.HandlerFunc

	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func newPurgeService(tb testing.TB, answer http.HandlerFunc) *purgeService {
	tb.Helper()
	p := &purgeService{answer: answer}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies, p.heads = append(p.bodies, body), append(p.heads, r.Header.Clone())
		p.mu.Unlock()
		p.answer(w, r)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

// recordedPurgeCall is the call of testdata/purge_call.json.
func recordedPurgeCall() privacy.PurgeCall {
	return privacy.PurgeCall{TenantID: "acme", PurgeID: "run_01-old-orders", PolicyID: "old-orders", Category: "payment",
		From: "created", Cutoff: time.Date(2025, 12, 1, 2, 0, 0, 999_000_000, time.UTC)}
}

// TestPurgeSendsTheRecordedCall: a purge call's body is byte for byte the
// recorded one (the cutoff rounded down to the second), signed as every call
// (the service verifies it with its secret), with the purge's
// Idempotency-Key, and the recorded answer gives its counts.
func TestPurgeSendsTheRecordedCall(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("testdata/purge_call.json")
	if err != nil {
		t.Fatal(err)
	}
	answer, err := os.ReadFile("testdata/purge_answer.json")
	if err != nil {
		t.Fatal(err)
	}
	p := newPurgeService(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(answer) })
	got, err := connector(webhook.Options{}).Purge(t.Context(), service(p.srv.URL, secretNew, secretOld), recordedPurgeCall())
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if diff := cmp.Diff(privacy.PurgeResult{Purged: 1250, Kept: 3}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if len(p.bodies) != 1 {
		t.Fatalf("the service got %d calls, want 1", len(p.bodies))
	}
	if !bytes.Equal(p.bodies[0], want) {
		t.Errorf("privops sent\n%s\nthe recording is\n%s", p.bodies[0], want)
	}
	h := p.heads[0]
	if err := webhook.Verify(h.Get(webhook.SignatureHeader), p.bodies[0], now, 0, secretOld); err != nil {
		t.Errorf("the service cannot verify the purge call: %v", err)
	}
	gotHeaders := map[string]string{"Idempotency-Key": h.Get("Idempotency-Key"), "Content-Type": h.Get("Content-Type")}
	if diff := cmp.Diff(map[string]string{"Idempotency-Key": "run_01-old-orders-purge", "Content-Type": "application/json"}, gotHeaders); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	var payload webhook.PurgePayload
	if err := json.Unmarshal(want, &payload); err != nil || payload.Action != privacy.ActionPurge {
		t.Errorf("the recording does not decode as a purge: %+v %v", payload, err)
	}
}

// TestPurgeAnswers maps each answer of a service: counts, not supported,
// transient (retried by the sweep with the same key) and permanent.
func TestPurgeAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		header    []string
		want      privacy.PurgeResult
		code      string
		temporary bool
		after     time.Duration
	}{
		{name: "counts", status: 200, body: `{"purged":7}`, want: privacy.PurgeResult{Purged: 7}},
		{name: "counts and kept, other members ignored", status: 200, body: `{"purged":0,"kept":2,"took":"3s"}`, want: privacy.PurgeResult{Kept: 2}},
		{name: "counts, kept and kept by hold", status: 200, body: `{"purged":5,"kept":1,"keptByHold":2}`, want: privacy.PurgeResult{Purged: 5, Kept: 1, KeptByHold: 2}},
		{name: "negative kept by hold", status: 200, body: `{"purged":5,"keptByHold":-2}`, code: "malformed-response"},
		{name: "not found: no purge", status: 404, want: privacy.PurgeResult{NotSupported: true}},
		{name: "method not allowed: no purge", status: 405, want: privacy.PurgeResult{NotSupported: true}},
		{name: "not implemented: no purge", status: 501, want: privacy.PurgeResult{NotSupported: true}},
		{name: "busy", status: 503, header: []string{"Retry-After", "120"}, code: "unavailable", temporary: true, after: 2 * time.Minute},
		{name: "throttled", status: 429, code: "unavailable", temporary: true},
		{name: "no counts", status: 200, body: `{}`, code: "malformed-response"},
		{name: "empty", status: 200, code: "malformed-response"},
		{name: "negative", status: 200, body: `{"purged":-1}`, code: "malformed-response"},
		{name: "contents instead of counts", status: 200, body: `{"purged":[{"email":"` + email + `"}]}`, code: "malformed-response"},
		{name: "accepted is not an answer", status: 202, code: "status"},
		{name: "refused", status: 403, body: bodyMarker, code: "status"},
		{name: "redirect", status: 307, code: "redirect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPurgeService(t, answer(tc.status, tc.body, tc.header...))
			got, err := connector(webhook.Options{}).Purge(t.Context(), service(p.srv.URL+"/?token="+querySecret, secretOld), recordedPurgeCall())
			checkErrorText(t, err)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Purge: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
				return
			}
			e := webhookError(t, err)
			if e.Code != tc.code || e.Temporary != tc.temporary || e.RetryAfter != tc.after || e.Action != privacy.ActionPurge {
				t.Errorf("error %+v (%v), want code %s, temporary %v, retry after %s, action purge", e, err, tc.code, tc.temporary, tc.after)
			}
		})
	}
}

// TestPurgeDryRunWithExclusions: a dry run with an exclusion list is the
// recorded body of testdata/purge_call_dry_run.json (dryRun, the salt in
// standard base64, the hashes), never an email; a real purge without
// exclusions keeps the earlier body (both members left out).
func TestPurgeDryRunWithExclusions(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("testdata/purge_call_dry_run.json")
	if err != nil {
		t.Fatal(err)
	}
	p := newPurgeService(t, answer(200, `{"purged":9,"keptByHold":1}`))
	call := recordedPurgeCall()
	call.PurgeID, call.DryRun = "preview_01-old-orders", true
	salt := bytes.Repeat([]byte{1}, 32)
	call.Exclusions = &privacy.PurgeExclusions{Salt: salt, Hashes: []string{"5b2a4d1c0f3e8a7b6c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"}}
	got, err := connector(webhook.Options{}).Purge(t.Context(), service(p.srv.URL, secretOld), call)
	if err != nil || got != (privacy.PurgeResult{Purged: 9, KeptByHold: 1}) {
		t.Fatalf("Purge = %+v, %v", got, err)
	}
	if !bytes.Equal(p.bodies[0], bytes.TrimSpace(want)) {
		t.Errorf("privops sent\n%s\nthe recording is\n%s", p.bodies[0], want)
	}
	if k := p.heads[0].Get("Idempotency-Key"); k != "preview_01-old-orders-purge" {
		t.Errorf("Idempotency-Key %q", k)
	}
}

// TestPurgeIdempotencyKeyIsStableAcrossRetries: every call of one purge
// carries the same key, so a service that purged already answers its counts
// again instead of counting anew.
func TestPurgeIdempotencyKeyIsStableAcrossRetries(t *testing.T) {
	t.Parallel()
	p := newPurgeService(t, answer(http.StatusServiceUnavailable, ""))
	c := connector(webhook.Options{})
	for range 2 {
		if _, err := c.Purge(t.Context(), service(p.srv.URL, secretOld), recordedPurgeCall()); err == nil {
			t.Fatal("Purge on a 503 = nil error, want one")
		}
	}
	var keys []string
	for _, h := range p.heads {
		keys = append(keys, h.Get(webhook.IdempotencyHeader))
	}
	if diff := cmp.Diff([]string{"run_01-old-orders-purge", "run_01-old-orders-purge"}, keys); diff != "" {
		t.Errorf("Idempotency-Key of two attempts (-want +got):\n%s", diff)
	}
}

// TestPurgeRefusesBadCalls: a purge without its ids or cutoff is not sent,
// and a private address is refused for a tenant that does not allow it.
func TestPurgeRefusesBadCalls(t *testing.T) {
	t.Parallel()
	p := newPurgeService(t, answer(200, `{"purged":1}`))
	noCutoff := recordedPurgeCall()
	noCutoff.Cutoff = time.Time{}
	if _, err := connector(webhook.Options{}).Purge(t.Context(), service(p.srv.URL, secretOld), noCutoff); webhookError(t, err).Code != "invalid-call" {
		t.Errorf("a purge without a cutoff: %v", err)
	}
	strict := connector(webhook.Options{AllowPrivate: func(string) bool { return false }})
	if _, err := strict.Purge(t.Context(), service(p.srv.URL, secretOld), recordedPurgeCall()); err == nil {
		t.Error("a purge to a loopback http URL of a tenant without allowPrivateConnectors was sent")
	}
	if len(p.bodies) != 0 {
		t.Errorf("the service got %d calls, want none", len(p.bodies))
	}
}
