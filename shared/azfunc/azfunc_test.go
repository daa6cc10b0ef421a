package azfunc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/trigger"
)

func TestReadinessAndUnknownPaths(t *testing.T) {
	t.Parallel()
	h := newHandler(t, fakes{})
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusOK},
		{http.MethodHead, "/", http.StatusOK},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodPost, "/unknownfunction", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.want {
				t.Errorf("status = %d, want %d", w.Code, tc.want)
			}
			if ct := w.Header().Get("Content-Type"); w.Code >= 400 && ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
		})
	}
}

func TestForwardedRequest(t *testing.T) {
	t.Parallel()
	portal := &recordingHandler{keep: []string{"Content-Type"}, respond: func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<p>no such request</p>")
	}}
	openapi := &recordingHandler{respond: jsonAnswer(http.StatusOK, `{}`)}
	h := newHandler(t, fakes{portal: portal, openapi: openapi})

	r := httptest.NewRequest(http.MethodPost, "/api/portal/requests?code=key", strings.NewReader(`{"a":1}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(invocationHeader, "inv-fwd")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	// The function's answer passes through unchanged: forwarding is not payload mode.
	if w.Code != http.StatusNotFound || w.Body.String() != "<p>no such request</p>" || w.Header().Get("Content-Type") != "text/html" {
		t.Errorf("response = %d %q %q, want the function's own", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	want := []seenRequest{{
		Method: "POST", Host: "example.com", Path: "/api/portal/requests", RawQuery: "code=key",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"a":1}`, ContentLength: 7,
		Invocation: trigger.Invocation{ID: "inv-fwd", Function: "portal"},
	}}
	if diff := cmp.Diff(want, portal.seen); diff != "" {
		t.Errorf("request seen by portal (-want +got):\n%s", diff)
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil))
	if w.Code != http.StatusOK || len(openapi.seen) != 1 {
		t.Errorf("openapi: status %d, calls %d; want 200 and 1", w.Code, len(openapi.seen))
	}
}

func TestForwardedPanic(t *testing.T) {
	t.Parallel()
	h := newHandler(t, fakes{admin: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/admin/tenants", nil))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", w.Code)
	}
}

func TestConcurrentInvocations(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]string{} // invocation id → what the function saw
	record := func(ctx context.Context, what string) {
		inv, _ := trigger.InvocationFrom(ctx)
		mu.Lock()
		seen[inv.ID] = inv.Function + ":" + what
		mu.Unlock()
	}
	h := newHandler(t, fakes{
		portal: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			record(r.Context(), r.URL.Path)
			w.WriteHeader(http.StatusBadRequest)
		}),
		notify: func(ctx context.Context, m trigger.Message) error {
			record(ctx, m.ID)
			return nil
		},
		deadlinewatch: func(ctx context.Context, ti trigger.TimerInfo) error {
			record(ctx, ti.ScheduledAt.Format("15:04"))
			return nil
		},
	})
	calls := []struct{ function, file, want string }{
		{"portal", "http_get.json", "portal:/api/portal/requests/status"},
		{"notify", "servicebus_binary.json", "notify:evt-42"},
		{"deadlinewatch", "timer_status.json", "deadlinewatch:02:05"},
	}
	const n = 60
	want := map[string]string{}
	var wg sync.WaitGroup
	for i := range n {
		c := calls[i%len(calls)]
		id := fmt.Sprintf("inv-%02d", i)
		want[id] = c.want
		body := payload(t, c.file)
		wg.Go(func() {
			w := invoke(t, h, c.function, body, id)
			if w.Code != http.StatusOK {
				t.Errorf("%s %s: status %d", id, c.function, w.Code)
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("invocations (-want +got):\n%s", diff)
	}
}

func TestNewRefusesMismatches(t *testing.T) {
	t.Parallel()
	ok := http.NotFoundHandler()
	timer := func(context.Context, trigger.TimerInfo) error { return nil }
	spec := []funcjson.Spec{{Name: "portal", Kind: funcjson.KindHTTP, Route: "portal/{*path}", TriggerName: "req", OutputName: "res"}}
	tests := []struct {
		name  string
		funcs []trigger.Function
	}{
		{"spec without function", nil},
		{"function without spec", []trigger.Function{{Name: "portal", HTTP: ok}, {Name: "extra", HTTP: ok}}},
		{"wrong kind", []trigger.Function{{Name: "portal", Timer: timer}}},
		{"two handlers", []trigger.Function{{Name: "portal", HTTP: ok, Timer: timer}}},
		{"registered twice", []trigger.Function{{Name: "portal", HTTP: ok}, {Name: "Portal", HTTP: ok}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tc.funcs, spec, nil); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"custom handler port", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "41234"}, "127.0.0.1:41234", false},
		{"legacy port", map[string]string{"FUNCTIONS_HTTPWORKER_PORT": "5000"}, "127.0.0.1:5000", false},
		{"new name wins", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "1", "FUNCTIONS_HTTPWORKER_PORT": "2"}, "127.0.0.1:1", false},
		{"unset", map[string]string{}, "", true},
		{"not a port", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "http"}, "", true},
		{"out of range", map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "70000"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ListenAddr(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ListenAddr = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
