package webhook_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

func TestRunSendsSignedPayload(t *testing.T) {
	t.Parallel()
	// A service mid-rollover: one instance still on the old key, one already
	// on the new. privops signs with both, so each accepts the call.
	for _, tc := range []struct {
		name   string
		secret []byte
	}{{"service holding the old key", secretOld}, {"service holding the new key", secretNew}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t, tc.secret, answer(http.StatusOK, `{"items":2}`))
			call := newCall(privacy.ActionRectify)
			call.Changes = []privacy.FieldChange{{Field: "name", Value: "Ada King"}}
			got, err := connector(webhook.Options{}).Run(t.Context(), service(f.url(), secretNew, secretOld), call)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: 2}, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			calls := f.calls()
			if len(calls) != 1 {
				t.Fatalf("service saw %d calls, want 1", len(calls))
			}
			c := calls[0]
			if c.SigErr != nil {
				t.Errorf("service could not verify the call: %v", c.SigErr)
			}
			wantHeaders := map[string]string{
				"Content-Type":    "application/json",
				"User-Agent":      "privops",
				"Idempotency-Key": "task-1-rectify",
			}
			gotHeaders := map[string]string{}
			for k := range wantHeaders {
				gotHeaders[k] = c.Header.Get(k)
			}
			if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if n := strings.Count(c.Header.Get(webhook.SignatureHeader), "v1="); n != 2 {
				t.Errorf("signature has %d v1 entries, want one per active secret (2)", n)
			}
			want := webhook.Payload{
				SpecVersion: "1.0",
				Type:        "io.privops.task.v1",
				TaskID:      "task-1",
				RequestID:   "req-1",
				TenantID:    "acme",
				Action:      privacy.ActionRectify,
				Identifiers: map[string]string{"email": email},
				Categories:  []privacy.Category{privacy.CategoryProfile},
				Changes:     []privacy.FieldChange{{Field: "name", Value: "Ada King"}},
				Purposes:    []string{},
				Deadline:    now.AddDate(0, 1, 0),
				CallbackURL: "https://privops.example/callbacks/task-1",
			}
			if diff := cmp.Diff(want, c.Payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunIdempotencyKeyIsStableAcrossRetries(t *testing.T) {
	t.Parallel()
	f := newFakeService(t, secretOld, answer(http.StatusServiceUnavailable, ""))
	c := connector(webhook.Options{})
	for range 2 {
		if _, err := c.Run(t.Context(), service(f.url(), secretOld), newCall(privacy.ActionErase)); err == nil {
			t.Fatal("Run on a 503 = nil error, want one")
		}
	}
	var keys []string
	for _, r := range f.calls() {
		keys = append(keys, r.Header.Get(webhook.IdempotencyHeader))
	}
	if diff := cmp.Diff([]string{"task-1-erase", "task-1-erase"}, keys); diff != "" {
		t.Errorf("Idempotency-Key of two attempts (-want +got):\n%s", diff)
	}
}

func TestRunAnswers(t *testing.T) {
	t.Parallel()
	type want struct {
		result     privacy.ConnectorResult
		code       string // "" for no error
		temporary  bool
		status     int
		retryAfter time.Duration
	}
	done := func(items int) want {
		return want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: items}}
	}
	held := func(reason string) want {
		return want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeHeld, Reason: reason}}
	}
	transient := func(status int, retryAfter time.Duration) want {
		return want{code: "unavailable", temporary: true, status: status, retryAfter: retryAfter}
	}
	permanent := func(code string, status int) want { return want{code: code, status: status} }
	big := strings.Repeat(" ", 64<<10) + `{"items":1}`
	tests := []struct {
		name    string
		action  privacy.Action
		handler http.HandlerFunc
		want    want
	}{
		{"200 with items", privacy.ActionErase, answer(200, `{"items":3}`), done(3)},
		{"200 with items and more fields", privacy.ActionErase, answer(200, `{"items":3,"note":"`+bodyMarker+`"}`), done(3)},
		{"200 empty", privacy.ActionErase, answer(200, ""), done(0)},
		{"200 object without items", privacy.ActionRestrict, answer(200, `{}`), done(0)},
		{"204", privacy.ActionObject, answer(204, ""), done(0)},
		{"200 garbage", privacy.ActionRectify, answer(200, bodyMarker), permanent("malformed-response", 0)},
		{"200 plain number", privacy.ActionErase, answer(200, `3`), permanent("malformed-response", 0)},
		{"200 negative items", privacy.ActionErase, answer(200, `{"items":-1}`), permanent("malformed-response", 0)},
		{"200 fractional items", privacy.ActionErase, answer(200, `{"items":1.5}`), permanent("malformed-response", 0)},
		{"200 over 64 KiB", privacy.ActionErase, answer(200, big), permanent("response-too-large", 0)},
		{"lookup 200", privacy.ActionLookup, answer(200, `{"items":2}`), want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Items: 2, Present: true}}},
		{"lookup 200 empty", privacy.ActionLookup, answer(200, ""), want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeDone, Present: true}}},
		{"lookup 404", privacy.ActionLookup, answer(404, ""), want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeNoData, Present: false}}},
		{"202", privacy.ActionErase, answer(202, `{"note":"`+bodyMarker+`"}`), want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeAccepted}}},
		{"export 202", privacy.ActionExport, answer(202, ""), want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeAccepted}}},
		{"404", privacy.ActionErase, answer(404, "not found: "+bodyMarker), want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}}},
		{"export 404", privacy.ActionExport, answer(404, ""), want{result: privacy.ConnectorResult{Outcome: privacy.OutcomeNoData}}},
		{"409 with reason", privacy.ActionErase, answer(409, `{"reason":"tax records are kept ten years (HGB §257)"}`), held("tax records are kept ten years (HGB §257)")},
		{"409 reason with line breaks", privacy.ActionErase, answer(409, `{"reason":"litigation\nhold\t"}`), held("litigation hold")},
		{"409 empty", privacy.ActionErase, answer(409, ""), held(webhook.DefaultHeldReason)},
		{"409 empty reason", privacy.ActionErase, answer(409, `{"reason":"  "}`), held(webhook.DefaultHeldReason)},
		{"409 garbage", privacy.ActionErase, answer(409, bodyMarker), held(webhook.DefaultHeldReason)},
		{"409 invalid UTF-8", privacy.ActionErase, answer(409, "{\"reason\":\"caf\xe9\"}"), held(webhook.DefaultHeldReason)},
		{"409 over 2 KiB", privacy.ActionErase, answer(409, `{"reason":"`+strings.Repeat("x", 2<<10)+`"}`), held(webhook.DefaultHeldReason)},
		{"408", privacy.ActionErase, answer(408, bodyMarker), transient(408, 0)},
		{"425", privacy.ActionErase, answer(425, ""), transient(425, 0)},
		{"429 Retry-After seconds", privacy.ActionErase, answer(429, "", "Retry-After", "120"), transient(429, 2*time.Minute)},
		{"429 Retry-After date", privacy.ActionErase, answer(429, "", "Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), transient(429, 90*time.Second)},
		{"429 Retry-After in the past", privacy.ActionErase, answer(429, "", "Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), transient(429, 0)},
		{"429 Retry-After garbled", privacy.ActionErase, answer(429, "", "Retry-After", "soon"), transient(429, 0)},
		{"429 Retry-After capped at a day", privacy.ActionErase, answer(429, "", "Retry-After", "99999999999"), transient(429, 24*time.Hour)},
		{"500", privacy.ActionErase, answer(500, bodyMarker), transient(500, 0)},
		{"502", privacy.ActionExport, answer(502, ""), transient(502, 0)},
		{"503 Retry-After", privacy.ActionErase, answer(503, "", "Retry-After", "30"), transient(503, 30*time.Second)},
		{"504", privacy.ActionLookup, answer(504, ""), transient(504, 0)},
		{"400", privacy.ActionErase, answer(400, bodyMarker), permanent("status", 400)},
		{"401", privacy.ActionErase, answer(401, ""), permanent("status", 401)},
		{"403", privacy.ActionErase, answer(403, ""), permanent("status", 403)},
		{"410", privacy.ActionErase, answer(410, ""), permanent("status", 410)},
		{"413", privacy.ActionRectify, answer(413, ""), permanent("status", 413)},
		{"422", privacy.ActionRectify, answer(422, bodyMarker), permanent("status", 422)},
		{"201 is unexpected", privacy.ActionErase, answer(201, ""), permanent("status", 201)},
		{"304", privacy.ActionErase, answer(304, ""), permanent("redirect", 304)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t, secretOld, tc.handler)
			call := newCall(tc.action)
			var s sink
			if tc.action == privacy.ActionExport {
				call.Save = s.save
			}
			got, err := connector(webhook.Options{}).Run(t.Context(), service(f.url(), secretOld), call)
			checkErrorText(t, err)
			if diff := cmp.Diff(tc.want.result, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if tc.want.code == "" {
				if err != nil {
					t.Fatalf("Run error = %v, want nil", err)
				}
				return
			}
			e := webhookError(t, err)
			gotWant := want{code: e.Code, temporary: e.Temporary, status: e.Status, retryAfter: e.RetryAfter}
			if diff := cmp.Diff(tc.want, gotWant, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("error %q (-want +got):\n%s", err, diff)
			}
			if got := errors.Is(err, privacy.ErrUnavailable); got != tc.want.temporary {
				t.Errorf("errors.Is(%q, ErrUnavailable) = %v, want %v", err, got, tc.want.temporary)
			}
			if tc.want.status != 0 && !strings.Contains(err.Error(), strconv.Itoa(tc.want.status)) {
				t.Errorf("error %q does not name the status %d", err, tc.want.status)
			}
			if s.calls != 0 {
				t.Errorf("Save called %d times on an error answer", s.calls)
			}
		})
	}
}

func TestRunRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			var targetHits atomic.Int32
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				targetHits.Add(1)
				_, _ = io.WriteString(w, `{"items":1}`)
			}))
			t.Cleanup(target.Close)
			f := newFakeService(t, secretOld, answer(status, "", "Location", target.URL+"/latest/meta-data?x="+querySecret))
			_, err := connector(webhook.Options{}).Run(t.Context(), service(f.url(), secretOld), newCall(privacy.ActionErase))
			checkErrorText(t, err)
			e := webhookError(t, err)
			if e.Code != "redirect" || e.Temporary || e.Status != status {
				t.Errorf("Run error = %q (code %q, temporary %v, status %d), want a permanent redirect error with status %d", err, e.Code, e.Temporary, e.Status, status)
			}
			if !strings.Contains(err.Error(), "redirects are not followed") {
				t.Errorf("error %q does not say redirects are not followed", err)
			}
			if n := targetHits.Load(); n != 0 {
				t.Errorf("redirect target requested %d times, want 0", n)
			}
		})
	}
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		action  privacy.Action
		handler http.HandlerFunc
	}{
		{"no answer", privacy.ActionErase, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}},
		{"answer body stalls", privacy.ActionErase, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"items":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
		{"export body stalls", privacy.ActionExport, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"items":[{"email":"`+email+`"},`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeService(t, secretOld, tc.handler)
			call := newCall(tc.action)
			var s sink
			if tc.action == privacy.ActionExport {
				call.Save = s.save
			}
			start := time.Now()
			_, err := connector(webhook.Options{Timeout: 300 * time.Millisecond}).Run(t.Context(), service(f.url(), secretOld), call)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Run took %v with a 300ms timeout", d)
			}
			checkErrorText(t, err)
			e := webhookError(t, err)
			if e.Code != "timeout" || !errors.Is(err, privacy.ErrUnavailable) {
				t.Errorf("Run error = %q (code %q), want a transient timeout", err, e.Code)
			}
			if s.committed() {
				t.Error("Save committed a partial export")
			}
		})
	}
}

func TestRunCallerCancelledIsTransient(t *testing.T) {
	t.Parallel()
	f := newFakeService(t, secretOld, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := connector(webhook.Options{}).Run(ctx, service(f.url(), secretOld), newCall(privacy.ActionErase))
	checkErrorText(t, err)
	if e := webhookError(t, err); e.Code != "cancelled" || !errors.Is(err, privacy.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error = %q (code %q), want a transient cancellation wrapping the context's error", err, e.Code)
	}
}

func TestRunNetworkFailuresAreTransient(t *testing.T) {
	t.Parallel()
	refused := func(tb testing.TB) string { // a port nothing listens on
		tb.Helper()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/?token=" + querySecret
	}
	cutOff := func(tb testing.TB, head string) string { // a server that closes mid-body
		tb.Helper()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { l.Close() })
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer conn.Close()
					r := bufio.NewReader(conn)
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					_, _ = io.WriteString(conn, head)
				}()
			}
		}()
		return "http://" + l.Addr().String() + "/?token=" + querySecret
	}
	tests := []struct {
		name   string
		url    func(testing.TB) string
		action privacy.Action
		tenant string // "strict" refuses private addresses
		phrase string
	}{
		{"connection refused", refused, privacy.ActionErase, "acme", "connection refused"},
		{"dns failure", func(testing.TB) string { return "https://no-such-host.invalid/?token=" + querySecret }, privacy.ActionErase, "strict", "dns lookup failed"},
		{"closed before answering", func(tb testing.TB) string { return cutOff(tb, "") }, privacy.ActionErase, "acme", "connection closed early"},
		{"export cut off", func(tb testing.TB) string {
			return cutOff(tb, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"items\":[{\"email\":\""+email+"\"},")
		}, privacy.ActionExport, "acme", "connection closed early"},
		{"export cut off, chunked", func(tb testing.TB) string {
			return cutOff(tb, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"ite\r\n")
		}, privacy.ActionExport, "acme", "connection closed early"},
		{"result cut off", func(tb testing.TB) string {
			return cutOff(tb, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"items\":")
		}, privacy.ActionErase, "acme", "connection closed early"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := connector(webhook.Options{AllowPrivate: func(tenant string) bool { return tenant != "strict" }})
			call := newCall(tc.action)
			call.TenantID = tc.tenant
			var s sink
			if tc.action == privacy.ActionExport {
				call.Save = s.save
			}
			_, err := c.Run(t.Context(), service(tc.url(t), secretOld), call)
			checkErrorText(t, err)
			e := webhookError(t, err)
			if e.Code != "connection" || !errors.Is(err, privacy.ErrUnavailable) || !strings.HasSuffix(err.Error(), tc.phrase) {
				t.Errorf("Run error = %q (code %q), want a transient connection error ending %q", err, e.Code, tc.phrase)
			}
			if s.committed() {
				t.Error("Save committed a partial export")
			}
		})
	}
}

func TestRunRefusesBadCalls(t *testing.T) {
	t.Parallel()
	ok := newFakeService(t, secretOld, answer(200, ""))
	strict := func(string) bool { return false }
	tests := []struct {
		name   string
		svc    *privacy.Service
		call   func() privacy.ConnectorCall
		strict bool
		code   string
	}{
		{"http for a tenant without private connectors", service(ok.url(), secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, true, "invalid-url"},
		{"ftp", service("ftp://files.example.com/x?token="+querySecret, secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"credentials in the url", service("https://user:"+querySecret+"@example.com/", secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"no host", service("https:///path?token="+querySecret, secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"unparsable url", service("https://exa mple.com/%zz?token="+querySecret, secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"decimal address", service("https://2130706433/hook", secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"hexadecimal address", service("https://0x7f000001/hook", secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"shortened address", service("https://127.1/hook", secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"underscore in the host", service("https://hr_api.example.com/hook", secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"non-numeric port", service("https://hr.example.com:https/hook", secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-url"},
		{"no secret", service(ok.url()), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "no-secret"},
		{"short secret", service(ok.url(), []byte("short")), func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "no-secret"},
		{"export without Save", service(ok.url(), secretOld), func() privacy.ConnectorCall { return newCall(privacy.ActionExport) }, false, "invalid-call"},
		{"unknown action", service(ok.url(), secretOld), func() privacy.ConnectorCall { return newCall(privacy.Action(email)) }, false, "invalid-call"},
		{"no task id", service(ok.url(), secretOld), func() privacy.ConnectorCall { c := newCall(privacy.ActionErase); c.TaskID = ""; return c }, false, "invalid-call"},
		{"no service", nil, func() privacy.ConnectorCall { return newCall(privacy.ActionErase) }, false, "invalid-call"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := webhook.Options{}
			if tc.strict {
				opts.AllowPrivate = strict
			}
			_, err := connector(opts).Run(t.Context(), tc.svc, tc.call())
			checkErrorText(t, err)
			if e := webhookError(t, err); e.Code != tc.code || e.Temporary || errors.Is(err, privacy.ErrUnavailable) {
				t.Errorf("Run error = %q (code %q), want permanent %q", err, e.Code, tc.code)
			}
		})
	}
	if n := len(ok.calls()); n != 0 {
		t.Errorf("service saw %d calls, want 0", n)
	}
}

func TestRunBigAnswerIsCutShort(t *testing.T) {
	t.Parallel()
	const total = 50 << 20
	type outcome struct {
		written int
		err     error
	}
	handlerDone := make(chan outcome, 1)
	f := newFakeService(t, secretOld, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(200)
		chunk := []byte(`{"items":1,"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
		var o outcome
		for o.written < total {
			n, err := w.Write(chunk)
			o.written += n
			if err != nil {
				o.err = err
				break
			}
		}
		handlerDone <- o
	})
	start := time.Now()
	_, err := connector(webhook.Options{}).Run(t.Context(), service(f.url(), secretOld), newCall(privacy.ActionErase))
	elapsed := time.Since(start)
	checkErrorText(t, err)
	if e := webhookError(t, err); e.Code != "response-too-large" || e.Temporary || !strings.HasSuffix(err.Error(), "response too large") {
		t.Errorf("Run error = %q (code %q), want permanent response too large", err, e.Code)
	}
	if elapsed > 3*time.Second {
		t.Errorf("Run took %v: it read more than it needed", elapsed)
	}
	select {
	case o := <-handlerDone:
		if o.err == nil || o.written >= total {
			t.Errorf("service wrote %d bytes (error %v): the client did not disconnect", o.written, o.err)
		}
	case <-time.After(10 * time.Second):
		t.Error("service still writing 10s after Run returned: the client did not disconnect")
	}
}

func TestRunHTTPS(t *testing.T) {
	t.Parallel()
	var got received
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.SigErr = webhook.Verify(r.Header.Get(webhook.SignatureHeader), body, now, 0, secretNew)
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig
	c := connector(webhook.Options{TLSConfig: tlsConfig})
	res, err := c.Run(t.Context(), service(srv.URL+"/hook", secretNew), newCall(privacy.ActionErase))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Outcome != privacy.OutcomeAccepted || got.SigErr != nil {
		t.Errorf("Run = %+v, service verify = %v; want accepted and a valid signature", res, got.SigErr)
	}
	// Without the test CA the certificate is refused: transient, the operator
	// may still fix it before the deadline.
	_, err = connector(webhook.Options{}).Run(t.Context(), service(srv.URL+"/hook", secretNew), newCall(privacy.ActionErase))
	checkErrorText(t, err)
	if e := webhookError(t, err); e.Code != "connection" || !strings.HasSuffix(err.Error(), "tls handshake failed") || !errors.Is(err, privacy.ErrUnavailable) {
		t.Errorf("Run against an untrusted certificate = %q, want a transient tls error", err)
	}
}
