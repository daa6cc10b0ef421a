package standalone

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

// TestHealthEndpoints: /healthz never asks the store; /readyz asks it, within
// ReadyTimeout, and answers 503 problem+json when it does not answer.
func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	down := errors.New("database is locked")
	tests := []struct {
		name       string
		ready      func(ctx context.Context) error
		method     string
		path       string
		wantStatus int
		wantCode   string // problem code; "" for {"status":"ok"}
		wantPings  int64
	}{
		{name: "healthz with the store down", ready: func(context.Context) error { return down },
			method: "GET", path: "/healthz", wantStatus: 200},
		{name: "readyz with the store up", ready: func(context.Context) error { return nil },
			method: "GET", path: "/readyz", wantStatus: 200, wantPings: 1},
		{name: "readyz with the store down", ready: func(context.Context) error { return down },
			method: "GET", path: "/readyz", wantStatus: 503, wantCode: "not-ready", wantPings: 1},
		{name: "readyz with a store that hangs", ready: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			method: "GET", path: "/readyz", wantStatus: 503, wantCode: "not-ready", wantPings: 1},
		{name: "readyz takes no POST", ready: func(context.Context) error { return nil },
			method: "POST", path: "/readyz", wantStatus: 405, wantCode: "method-not-allowed"},
		{name: "health is not under /api/", ready: func(context.Context) error { return nil },
			method: "GET", path: "/api/healthz", wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var pings atomic.Int64
			base, _ := start(t, &Host{
				Functions:    []trigger.Function{{Name: "portal", HTTP: named("portal")}},
				Specs:        []funcjson.Spec{httpSpec("portal", "portal/{*path}")},
				Ready:        func(ctx context.Context) error { pings.Add(1); return tc.ready(ctx) },
				ReadyTimeout: 50 * time.Millisecond,
			})
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tc.wantStatus, body)
			}
			if got := pings.Load(); got != tc.wantPings {
				t.Errorf("store pings = %d, want %d", got, tc.wantPings)
			}
			switch {
			case tc.wantStatus == 200:
				if diff := cmp.Diff(`{"status":"ok"}`, string(body)); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			case tc.wantCode != "":
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				var p struct{ Code string }
				if err := json.Unmarshal(body, &p); err != nil || p.Code != tc.wantCode {
					t.Errorf("problem code = %q (%v), want %q", p.Code, err, tc.wantCode)
				}
			}
		})
	}
}
