package web_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/web"
)

func TestCapture(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		handler    func(w http.ResponseWriter)
		wantStatus int
		wantHeader http.Header
		wantBody   string
		wantErr    bool
	}{
		{"nothing written is an empty 200", func(http.ResponseWriter) {}, 200, http.Header{}, "", false},
		{"a body alone is 200", func(w http.ResponseWriter) { _, _ = w.Write([]byte("hi")) }, 200, http.Header{}, "hi", false},
		{"an informational status is not the status", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusTeapot)
			w.WriteHeader(http.StatusOK)
		}, http.StatusTeapot, http.Header{}, "", false},
		{"hop-by-hop headers are dropped, keys merged by case", func(w http.ResponseWriter) {
			w.Header()["x-a"] = []string{"1"}
			w.Header()["X-A"] = []string{"2"}
			w.Header().Set("Content-Length", "9")
			w.Header().Set("Connection", "close")
			w.WriteHeader(201)
		}, 201, http.Header{"X-A": {"1", "2"}}, "", false},
		{"a body past the limit fails", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("12345"))
			if _, err := w.Write([]byte("6789")); err == nil {
				panic("the write past the limit succeeded")
			}
		}, 200, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := web.NewCapture(8)
			tt.handler(c)
			h, body, err := c.Result()
			if (err != nil) != tt.wantErr || c.Status() != tt.wantStatus {
				t.Fatalf("status %d, error %v; want %d, error %v", c.Status(), err, tt.wantStatus, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			sortValues(h)
			if diff := cmp.Diff(tt.wantHeader, h); diff != "" || string(body) != tt.wantBody {
				t.Errorf("headers (-want +got):\n%s\nbody %q, want %q", diff, body, tt.wantBody)
			}
		})
	}
}

// sortValues orders merged values: map iteration decides which case came first.
func sortValues(h http.Header) {
	for _, v := range h {
		if len(v) == 2 && v[0] > v[1] {
			v[0], v[1] = v[1], v[0]
		}
	}
}
