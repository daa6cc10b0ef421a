package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// TestWebhookServicePurgedBySweep: a policy on a webhook service is accepted
// and swept through the service's purge action: one signed call with the
// category and the cutoff, whose counts land in the run report (admin API);
// a service failing transiently first is
// called again with the same Idempotency-Key.
func TestWebhookServicePurgedBySweep(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	var mu sync.Mutex
	var keys []string
	var payloads []webhook.PurgePayload
	var callKey []byte
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.VerifyWith(r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0, webhook.Key{Scheme: webhook.SchemeV2, Secret: callKey}); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p webhook.PurgePayload
		_ = json.Unmarshal(body, &p)
		payloads, keys = append(payloads, p), append(keys, r.Header.Get(webhook.IdempotencyHeader))
		if len(keys) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"purged":5,"kept":1}`)
	}))
	t.Cleanup(svc.Close)
	tn, err := ta.store.GetTenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	tn.AllowPrivateConnectors = true
	if err := ta.store.UpdateTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/services/crm", header: bearer(admin),
		body: `{"name":"CRM","kind":"webhook","actions":["erase","purge"],"categories":["profile"],"identifiers":["email"],"url":"` + svc.URL + `"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("put service: %d %v", r.status, r.body)
	}
	secret, err := base64.StdEncoding.DecodeString(r.body["newSecret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	callKey = webhook.DeriveKey(secret, webhook.DirectionCall)
	mu.Unlock()
	r = ta.do(t, call{method: "PUT", path: "/api/admin/acme/retention/policies/crm-customers", header: bearer(admin),
		body: `{"category":"customer","scope":"service","service":"crm","maxAgeDays":400,"from":"last-modified","action":"delete"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("put policy: %d %v", r.status, r.body)
	}

	run, err := ta.sweeper.Run(context.Background(), "acme", "test", time.Minute)
	if err != nil || !run.Finished() {
		t.Fatalf("run %+v, %v", run, err)
	}
	r = ta.do(t, call{method: "GET", path: "/api/admin/acme/retention/runs/" + run.ID, header: bearer(admin)})
	pol, _ := r.body["policies"].([]any)
	if r.status != http.StatusOK || len(pol) != 1 {
		t.Fatalf("run report: %d %v", r.status, r.body)
	}
	got := pick(pol[0], "status", "scanned", "purged", "keptByService", "attempts")
	if diff := cmp.Diff([]any{"done", 6.0, 5.0, 1.0, 2.0}, got); diff != "" {
		t.Errorf("report: status, scanned, purged, keptByService, attempts (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{run.ID + "-crm-customers-purge", run.ID + "-crm-customers-purge"}, keys); diff != "" {
		t.Errorf("Idempotency-Keys (-want +got):\n%s", diff)
	}
	if p := payloads[1]; p.Action != privacy.ActionPurge || p.Category != "customer" || p.From != "last-modified" ||
		!p.Cutoff.Equal(run.StartedAt.Add(-400*24*time.Hour).Truncate(time.Second)) {
		t.Errorf("purge call %+v", p)
	}
}

// TestWebhookDryRunThroughThePreview (issue 12, item 5): POST
// …/retention/preview sends a webhook service that lists purge-dry-run its
// purge with dryRun and a fresh Idempotency-Key, and reports its counts; a
// service answering 501 to the dry run is not-previewed with that reason.
// No run starts.
func TestWebhookDryRunThroughThePreview(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		want   []any
	}{
		{"counts", http.StatusOK, []any{"done", 9.0, 8.0, 1.0}},
		{"no dry run", http.StatusNotImplemented, []any{"not-previewed", 0.0, 0.0, 0.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t)
			admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
			var mu sync.Mutex
			var got []webhook.PurgePayload
			var keys []string
			svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				var p webhook.PurgePayload
				_ = json.Unmarshal(body, &p)
				mu.Lock()
				got, keys = append(got, p), append(keys, r.Header.Get(webhook.IdempotencyHeader))
				mu.Unlock()
				if tc.status != http.StatusOK {
					w.WriteHeader(tc.status)
					return
				}
				_, _ = io.WriteString(w, `{"purged":8,"kept":1}`)
			}))
			t.Cleanup(svc.Close)
			tn, _ := ta.store.GetTenant(context.Background(), "acme")
			tn.AllowPrivateConnectors = true
			if err := ta.store.UpdateTenant(context.Background(), tn); err != nil {
				t.Fatal(err)
			}
			for _, c := range []call{
				{method: "PUT", path: "/api/admin/acme/services/crm", header: bearer(admin),
					body: `{"name":"CRM","kind":"webhook","actions":["erase","purge","purge-dry-run"],"categories":["profile"],"identifiers":["email"],"url":"` + svc.URL + `"}`},
				{method: "PUT", path: "/api/admin/acme/retention/policies/crm-customers", header: bearer(admin),
					body: `{"category":"customer","scope":"service","service":"crm","maxAgeDays":400,"from":"last-modified","action":"delete"}`},
			} {
				if r := ta.do(t, c); r.status != http.StatusCreated {
					t.Fatalf("%s %s: %d %v", c.method, c.path, r.status, r.body)
				}
			}
			r := ta.do(t, call{method: "POST", path: "/api/admin/acme/retention/preview", header: bearer(admin)})
			pol, _ := r.body["policies"].([]any)
			if r.status != http.StatusOK || len(pol) != 1 {
				t.Fatalf("preview: %d %v", r.status, r.body)
			}
			if diff := cmp.Diff(tc.want, pick(pol[0], "status", "scanned", "purged", "keptByService")); diff != "" {
				t.Errorf("preview: status, scanned, purged, keptByService (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || !got[0].DryRun || !strings.HasPrefix(keys[0], "preview_") {
				t.Errorf("calls %+v, keys %v", got, keys)
			}
			r = ta.do(t, call{method: "GET", path: "/api/admin/acme/retention/runs", header: bearer(admin)})
			if runs, _ := r.body["runs"].([]any); len(runs) != 0 {
				t.Errorf("the preview started a run: %v", r.body)
			}
		})
	}
}
