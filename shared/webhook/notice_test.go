package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestNotifierSignsAndGuards: a breach notice is posted signed with the
// tenant's secret (verifiable with Verify); a non-2xx answer is an error
// naming the status only; a loopback URL is refused unless allowed.
func TestNotifierSignsAndGuards(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef")
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	var verr error
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verr = Verify(r.Header.Get(SignatureHeader), body, now, time.Minute, secret)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	n := NewNotifier(time.Second, func() time.Time { return now })
	if err := n.Post(context.Background(), srv.URL, secret, []byte(`{"a":1}`), false); err == nil {
		t.Error("a loopback address was reached without allowPrivate")
	}
	if err := n.Post(context.Background(), srv.URL, secret, []byte(`{"a":1}`), true); err != nil || verr != nil {
		t.Fatalf("post: %v; signature: %v", err, verr)
	}
	status = http.StatusInternalServerError
	err := n.Post(context.Background(), srv.URL+"/hook?token=s3cret", secret, []byte(`{}`), true)
	if err == nil || err.Error() != "breach webhook: answered 500" {
		t.Errorf("a 500 answer: %v", err)
	}
}
