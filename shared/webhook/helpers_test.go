package webhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/webhook"
)

// Personal data and secrets that no error text may contain.
const (
	email       = "ada.lovelace@example.com"
	querySecret = "query-secret-token"
	bodyMarker  = "BODY-MARKER"
)

// received is what a fake service saw of one call.
type received struct {
	Header  http.Header
	Payload webhook.Payload
	SigErr  error // the fake's own Verify of the signature
}

// fakeService is a webhook service over httptest. It verifies each call's
// signature with its own secret, as a real service would, answers 401 when it
// fails, and otherwise lets handle answer.
type fakeService struct {
	srv    *httptest.Server
	secret []byte
	handle http.HandlerFunc

	mu   sync.Mutex
	seen []received
}

func newFakeService(tb testing.TB, secret []byte, handle http.HandlerFunc) *fakeService {
	tb.Helper()
	f := &fakeService{secret: secret, handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeService) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	rec := received{Header: r.Header.Clone()}
	rec.SigErr = webhook.Verify(r.Header.Get(webhook.SignatureHeader), body, now, 0, f.secret)
	if err := json.Unmarshal(body, &rec.Payload); err != nil {
		rec.SigErr = errors.Join(rec.SigErr, err)
	}
	f.mu.Lock()
	f.seen = append(f.seen, rec)
	f.mu.Unlock()
	if rec.SigErr != nil || r.Method != http.MethodPost {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	f.handle(w, r)
}

func (f *fakeService) calls() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.seen...)
}

// url is the fake's URL with a query string that must never show in errors.
func (f *fakeService) url() string { return f.srv.URL + "/privops/tasks?token=" + querySecret }

// answer returns a handler writing status, headers and body.
func answer(status int, body string, headerKV ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headerKV); i += 2 {
			w.Header().Set(headerKV[i], headerKV[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// service returns a webhook service at url whose secrets are given newest first.
func service(url string, secrets ...[]byte) *privacy.Service {
	svc := &privacy.Service{ID: "crm", Name: "CRM", Kind: privacy.KindWebhook, URL: url}
	for i, s := range secrets {
		svc.Secrets = append(svc.Secrets, privacy.ServiceSecret{
			ID:        fmt.Sprintf("k%d", i),
			Value:     base64.StdEncoding.EncodeToString(s),
			CreatedAt: now.AddDate(0, 0, -30*i),
		})
	}
	return svc
}

// newCall returns a call about the subject with email.
func newCall(action privacy.Action) privacy.ConnectorCall {
	return privacy.ConnectorCall{
		TenantID:    "acme",
		RequestID:   "req-1",
		TaskID:      "task-1",
		Action:      action,
		Identifiers: map[string]string{"email": email},
		Categories:  []privacy.Category{privacy.CategoryProfile},
		Deadline:    now.AddDate(0, 1, 0),
		CallbackURL: "https://privops.example/callbacks/task-1",
	}
}

// connector returns a Connector on the fixed clock that lets every tenant
// reach private addresses (the fakes listen on loopback), with opts' other
// fields.
func connector(opts webhook.Options) *webhook.Connector {
	opts.Now = func() time.Time { return now }
	if opts.AllowPrivate == nil {
		opts.AllowPrivate = func(string) bool { return true }
	}
	return webhook.New(opts)
}

// checkErrorText fails if an error's text leaks the subject's email, the URL's
// query string or a body.
func checkErrorText(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	for _, leak := range []string{email, querySecret, bodyMarker, "127.0.0.1", "://"} {
		if strings.Contains(err.Error(), leak) {
			tb.Errorf("error %q contains %q", err, leak)
		}
	}
}

// webhookError returns the *webhook.Error in err's chain.
func webhookError(tb testing.TB, err error) *webhook.Error {
	tb.Helper()
	var e *webhook.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not a *webhook.Error", err, err)
	}
	return e
}

// sink is a Save that hashes what it reads and records how reading ended.
type sink struct {
	mu      sync.Mutex
	calls   int
	n       int64
	sum     []byte
	data    bytes.Buffer // the first MiB, for small exports
	readErr error
	fail    func(n int64) error // fault injection: fail once n bytes are read
}

func (s *sink) save(_ context.Context, r io.Reader) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	h := sha256.New()
	buf := make([]byte, 32<<10)
	for {
		k, err := r.Read(buf)
		s.n += int64(k)
		h.Write(buf[:k])
		if s.data.Len() < 1<<20 {
			s.data.Write(buf[:min(k, 1<<20-s.data.Len())])
		}
		if s.fail != nil {
			if ferr := s.fail(s.n); ferr != nil {
				return s.n, ferr
			}
		}
		if err == io.EOF {
			s.sum = h.Sum(nil)
			return s.n, nil
		}
		if err != nil {
			s.readErr = err
			return s.n, err // a Blobs.Put would not commit
		}
	}
}

// committed reports whether Save read its input to a clean end.
func (s *sink) committed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum != nil
}

// hashWriter hashes and counts what is written.
type hashWriter struct {
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}
