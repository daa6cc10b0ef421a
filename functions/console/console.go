// Package console is the admin console (HTTP trigger, route console/{*path},
// public pages; every call they make goes to the admin API with the admin's
// bearer token): tenant privacy admins sign in, work the request queue and
// decide requests. GET /api/console/ serves the page; its script and styles
// are embedded in the binary (no build step, no CDN). No side effects of its
// own: it only serves files.
package console

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/privops/privops/shared/ui"
)

//go:embed assets
var assetFS embed.FS

// Console serves the admin console's files.
type Console struct {
	assets *ui.Assets
}

// New returns the admin console.
func New() (*Console, error) {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	a, err := ui.NewAssets(sub)
	if err != nil {
		return nil, fmt.Errorf("admin console assets: %w", err)
	}
	return &Console{assets: a}, nil
}

// Handler returns the function's http.Handler.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/console/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /api/console/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		c.assets.Serve(w, r, "index.html", ui.CSP())
	})
	mux.HandleFunc("GET /api/console/{file}", func(w http.ResponseWriter, r *http.Request) {
		c.assets.Serve(w, r, r.PathValue("file"), ui.CSP())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { ui.NotFound(w, ui.CSP()) })
	return mux
}
