package standalone

import (
	"context"
	"net/http"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// Health endpoints, outside /api/ so no function route can shadow them. They
// are the standalone host's own: on Azure the platform watches the Functions
// host, and the custom handler answers the host's readiness poll on "/".
const (
	// HealthzPath answers 200 while the process serves HTTP; it touches no
	// dependency, so a slow store never gets a live process restarted.
	HealthzPath = "/healthz"
	// ReadyzPath answers 200 when the store answers a ping within
	// ReadyTimeout, else 503 problem+json (code not-ready).
	ReadyzPath = "/readyz"
)

// DefaultReadyTimeout bounds one readiness check.
const DefaultReadyTimeout = 2 * time.Second

// serveHealth answers the health endpoints; it reports whether path was one.
func (rt *router) serveHealth(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != HealthzPath && r.URL.Path != ReadyzPath {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		web.Problem(w, r, privacy.Errorf(privacy.KindMethodNotAllowed, "method-not-allowed", "this endpoint does not support %s", r.Method))
		return true
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == ReadyzPath && rt.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), rt.readyTimeout)
		defer cancel()
		if err := rt.ready(ctx); err != nil {
			rt.logger.Warn("readiness check failed", "error", err)
			web.Problem(w, r, privacy.Errorf(privacy.KindUnavailable, "not-ready", "the store is not reachable"))
			return true
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"status":"ok"}`))
	return true
}
