package web_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/privops/privops/shared/web"
)

// TestLazyBuildsOnFirstRequestOnce: nothing is built before the first request,
// and concurrent first requests build the handler once and all reach it.
func TestLazyBuildsOnFirstRequestOnce(t *testing.T) {
	t.Parallel()
	var builds, served atomic.Int64
	h := web.Lazy(func() http.Handler {
		builds.Add(1)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/x", func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			w.WriteHeader(http.StatusTeapot)
		})
		return mux
	})
	if n := builds.Load(); n != 0 {
		t.Fatalf("built %d times before any request", n)
	}
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/x", nil))
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Errorf("built %d times, want 1", n)
	}
	if n := served.Load(); n != int64(len(codes)) {
		t.Errorf("served %d requests, want %d", n, len(codes))
	}
	for i, c := range codes {
		if c != http.StatusTeapot {
			t.Errorf("request %d: status %d, want %d", i, c, http.StatusTeapot)
		}
	}
}
