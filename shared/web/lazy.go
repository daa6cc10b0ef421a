package web

import (
	"net/http"
	"sync"
)

// Lazy returns a handler that builds its handler with build on the first
// request, once, and passes every request to it. A host starts serving
// without building what it may never be asked for: a Functions instance
// cold-started for one function builds that function's routes and templates
// only (issue 16, cold start).
func Lazy(build func() http.Handler) http.Handler {
	h := sync.OnceValue(build)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h().ServeHTTP(w, r) })
}
