package cosmos

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// statusTransport answers every call with one status and records the calls.
type statusTransport struct {
	status int
	paths  []string
}

func (t *statusTransport) Do(r *http.Request) (*http.Response, error) {
	t.paths = append(t.paths, r.Method+" "+r.URL.Path)
	body := `{"id":"privops","_rid":"r","_self":"dbs/r/","_etag":"\"e\"","_ts":1}`
	if t.status != http.StatusOK {
		body = `{"code":"ServiceUnavailable","message":"down"}`
	}
	return &http.Response{StatusCode: t.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// TestPing: Ping is one read of the database resource; an account that does
// not answer is unavailable. No emulator needed: the transport answers.
func TestPing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		wantErr error
	}{
		{name: "reachable", status: http.StatusOK},
		{name: "unavailable", status: http.StatusServiceUnavailable, wantErr: privacy.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := &statusTransport{status: tc.status}
			s, err := New(Config{Endpoint: "https://acct.documents.azure.com:443/", Auth: AuthKey,
				Key:       "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==",
				Transport: tr, MaxRetries: -1, MaxRetryDelay: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = s.Ping(context.Background())
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Ping: got %v, want %v", err, tc.wantErr)
			}
			// The SDK reads the account (GET /) before its first call.
			if tc.wantErr == nil && !slices.Equal(tr.paths, []string{"GET /", "GET /dbs/privops"}) {
				t.Errorf("calls: got %q, want the account read and one read of the database", tr.paths)
			}
		})
	}
}
