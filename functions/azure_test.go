package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/azfunc"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
)

// azureHost serves the wired functions through the Functions custom-handler
// protocol, as the Functions host would call them.
func azureHost(tb testing.TB, ta *testApp) *httptest.Server {
	tb.Helper()
	h, err := azfunc.New(ta.funcs, ta.specs, ta.log)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// invoke posts a payload-mode invocation and decodes the host-facing reply.
func invoke(tb testing.TB, srv *httptest.Server, function string, payload any) (int, http.Header, map[string]any) {
	tb.Helper()
	b, _ := json.Marshal(payload)
	req, _ := http.NewRequest("POST", srv.URL+"/"+function, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", "5f3a0c7e-1111-4222-8333-944445555666")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, res.Header, out
}

func sys(method string) map[string]any {
	return map[string]any{"MethodName": method, "UtcNow": "2030-01-31T02:00:03.7654321Z", "RandGuid": "6f1c2f0e-8a43-4b7a-9c55-2d1e7a0f3b11"}
}

// serviceBusPayload wraps a message body as the host sends it with dataType binary.
func serviceBusPayload(body []byte, messageID string, deliveryCount int) map[string]any {
	return map[string]any{
		"Data": map[string]any{"msg": base64.StdEncoding.EncodeToString(body)},
		"Metadata": map[string]any{
			"DeliveryCount": strconv.Itoa(deliveryCount), // the host sends scalars as strings
			"MessageId":     `"` + messageID + `"`,
			"EnqueuedTime":  "2030-01-31T01:59:58+00:00",
			"ContentType":   `"application/cloudevents+json"`,
			"sys":           sys("notify"),
		},
	}
}

func TestAzureHostServesTheWiredFunctions(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	srv := azureHost(t, ta)

	t.Run("readiness probe", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	})

	t.Run("forwarded HTTP request", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/api/portal/acme/requests", "application/json",
			strings.NewReader(`{"type":"access","email":"fwd@example.com","country":"DE"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Errorf("status %d, want 201", res.StatusCode)
		}
	})

	t.Run("payload-mode HTTP with a user error reaches the host as 200", func(t *testing.T) {
		before := ta.snapshot(t)
		status, hdr, out := invoke(t, srv, "portal", map[string]any{
			"Data": map[string]any{"req": map[string]any{
				"Url":     "https://privops.azurewebsites.net/api/portal/acme/requests?code=functionkey",
				"Method":  "POST",
				"Query":   map[string]any{"code": "functionkey"},
				"Headers": map[string]any{"Content-Type": []string{"application/json"}},
				"Params":  map[string]any{"path": "acme/requests"},
				"Body":    `{"type":"access","email":"not-an-email","country":"DE"}`,
			}},
			"Metadata": map[string]any{"sys": sys("portal")},
		})
		if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Fatalf("host got %d %q, want 200 application/json", status, hdr.Get("Content-Type"))
		}
		res, _ := out["Outputs"].(map[string]any)["res"].(map[string]any)
		if code, _ := res["statusCode"].(float64); code != 400 || !strings.Contains(res["body"].(string), `"invalid-email"`) {
			t.Errorf("Outputs.res = %v", res)
		}
		if after := ta.snapshot(t); after != before {
			t.Errorf("a refused submission changed state: %v → %v", before, after)
		}
		if strings.Contains(ta.logs.String(), "functionkey") {
			t.Error("the function key from the query string reached the logs")
		}
	})

	t.Run("service bus notice delivered twice mails once", func(t *testing.T) {
		ctx := context.Background()
		res, err := ta.svc.Submit(ctx, "acme", dsr.Submission{Type: privacy.TypeErase, Email: "sb@example.com", Country: "FR"}, "", dsr.Actor{Admin: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		d, err := ta.queue.Receive(ctx, ta.cfg.NoticesQueue, time.Minute)
		if err != nil || d == nil {
			t.Fatalf("no notice queued: %v", err)
		}
		mails := ta.mail.count()
		for delivery := 1; delivery <= 2; delivery++ {
			if status, _, _ := invoke(t, srv, "notify", serviceBusPayload(d.Body, d.ID, delivery)); status != 200 {
				t.Fatalf("delivery %d: host got %d", delivery, status)
			}
		}
		if got := ta.mail.count() - mails; got != 1 {
			t.Errorf("%d mails for one notice delivered twice", got)
		}
		r, _ := ta.svc.Get(ctx, "acme", res.Request.ID)
		if len(r.Notices) != 1 {
			t.Errorf("%d notices recorded, want 1", len(r.Notices))
		}
	})

	t.Run("a malformed message is acknowledged, not retried", func(t *testing.T) {
		status, _, _ := invoke(t, srv, "notify", serviceBusPayload([]byte(`{"not":"a cloudevent"}`), "junk-1", 1))
		if status != 200 {
			t.Errorf("host got %d, want 200 (a permanent failure is recorded and acknowledged)", status)
		}
	})

	t.Run("timer", func(t *testing.T) {
		status, _, _ := invoke(t, srv, "deadlinewatch", map[string]any{
			"Data": map[string]any{"timer": map[string]any{
				"Schedule":       map[string]any{"AdjustForDST": true},
				"ScheduleStatus": map[string]any{"Last": "2030-01-31T01:05:00+00:00", "Next": "2030-01-31T02:05:00+00:00", "LastUpdated": "2030-01-31T01:05:00.01+00:00"},
				"IsPastDue":      false,
			}},
			"Metadata": map[string]any{"sys": sys("deadlinewatch")},
		})
		if status != 200 {
			t.Errorf("host got %d", status)
		}
	})
}
