package standalone

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

func TestHTTPRouting(t *testing.T) {
	t.Parallel()
	base, _ := start(t, &Host{
		Functions: []trigger.Function{
			{Name: "portal", HTTP: named("portal")},
			{Name: "portalstatus", HTTP: named("portalstatus")},
			{Name: "openapi", HTTP: named("openapi")},
			{Name: "admin", HTTP: named("admin")},
		},
		Specs: []funcjson.Spec{
			httpSpec("portal", "portal/{*path}", "GET", "POST"),
			httpSpec("portalstatus", "portal/status/{token}", "GET"),
			httpSpec("openapi", "openapi.json", "GET"),
			httpSpec("admin", "admin/{*path}"),
		},
	})
	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"GET", "/api/portal/requests?code=secret", 200, "portal/portal"},
		{"POST", "/api/portal", 200, "portal/portal"},
		{"GET", "/api/portal/status/tok-1", 200, "portalstatus/portalstatus"},
		{"GET", "/api/openapi.json", 200, "openapi/openapi"},
		{"DELETE", "/api/admin/tenants/t1", 200, "admin/admin"},
		{"DELETE", "/api/portal/requests", 405, ""},
		{"GET", "/api/openapi.json/x", 404, ""},
		{"GET", "/portal/requests", 404, ""},
		{"GET", "/", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
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
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); tc.wantStatus >= 400 && ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			if tc.wantStatus == 405 && resp.Header.Get("Allow") != "GET, POST" {
				t.Errorf("Allow = %q, want %q", resp.Header.Get("Allow"), "GET, POST")
			}
		})
	}
}

func TestHTTPPanicIsRecovered(t *testing.T) {
	t.Parallel()
	base, stop := start(t, &Host{
		Functions: []trigger.Function{{Name: "portal", HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/portal/boom" {
				panic("boom")
			}
			w.WriteHeader(http.StatusNoContent)
		})}},
		Specs: []funcjson.Spec{httpSpec("portal", "portal/{*path}")},
	})
	for path, want := range map[string]int{"/api/portal/boom": 500, "/api/portal/ok": 204} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestRunRefusesBadSetup(t *testing.T) {
	t.Parallel()
	timer := func(context.Context, trigger.TimerInfo) error { return nil }
	queue := func(context.Context, trigger.Message) error { return nil }
	tests := []struct {
		name string
		host *Host
	}{
		{"function without spec", &Host{Functions: []trigger.Function{{Name: "x", Timer: timer}}}},
		{"bad schedule", &Host{Functions: []trigger.Function{{Name: "x", Timer: timer}}, Specs: []funcjson.Spec{timerSpec("x", "0 0 2 * *")}}},
		{"queue without receiver", &Host{Functions: []trigger.Function{{Name: "x", Queue: queue}}, Specs: []funcjson.Spec{queueSpec("x", "q")}}},
		{"address in use or invalid", &Host{Addr: "256.0.0.1:http"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tc.host.Run(ctx); err == nil {
				t.Error("Run = nil, want an error")
			}
		})
	}
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	msgEntered := make(chan struct{})
	handlerCtxErr := make(chan error, 1)
	rcv, settled := recordingReceiver(t, delivery("m-1", 1))
	base, stop := start(t, &Host{
		Functions: []trigger.Function{
			{Name: "portal", HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				<-release
				handlerCtxErr <- r.Context().Err()
				_, _ = io.WriteString(w, "done")
			})},
			{Name: "notify", Queue: func(ctx context.Context, m trigger.Message) error {
				close(msgEntered)
				<-release
				return ctx.Err()
			}},
		},
		Specs:    []funcjson.Spec{httpSpec("portal", "portal/{*path}"), queueSpec("notify", "notices")},
		Receiver: rcv,
		Workers:  1,
	})

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/api/portal/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	wait(t, entered, "the request to start")
	wait(t, msgEntered, "the message to start")

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Give Run a moment to begin its shutdown before the work finishes; the
	// test holds either way.
	time.Sleep(50 * time.Millisecond)
	close(release)

	if body := wait(t, got, "the in-flight response"); body != "done" {
		t.Errorf("in-flight response = %q, want done", body)
	}
	if s := wait(t, settled, "the in-flight message to settle"); s.Op != "complete" {
		t.Errorf("in-flight message settled as %+v, want complete", s)
	}
	if err := wait(t, stopped, "Run to return"); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if err := wait(t, handlerCtxErr, "the handler's context"); err != nil {
		t.Errorf("in-flight request context = %v, want not cancelled during the drain", err)
	}
}

func TestShutdownTimeoutCancelsWork(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	base, stop := start(t, &Host{
		Functions: []trigger.Function{{Name: "portal", HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done()
		})}},
		Specs:           []funcjson.Spec{httpSpec("portal", "portal/{*path}")},
		ShutdownTimeout: 100 * time.Millisecond,
	})
	go func() {
		if resp, err := http.Get(base + "/api/portal/hang"); err == nil {
			resp.Body.Close()
		}
	}()
	wait(t, entered, "the request to start")
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
