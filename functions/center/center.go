// Package center is the privacy center (HTTP trigger, route center/{*path},
// public): the pages a data subject uses to send a request to a tenant,
// confirm it with the mailed code, follow it and download an export. GET
// /api/center/{tenant}/ serves the page in the tenant's brand; its script and
// styles are embedded in the binary (no build step, no CDN) and talk to the
// portal API (/api/portal/...). The same script mounts on a tenant's own site
// (the embeddable form, over CORS). No side effects: it only reads the
// tenant's name and brand.
package center

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sync"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/ui"
)

//go:embed assets
var assetFS embed.FS

// Tenants reads a tenant (ErrNotFound, or a privacy.Error of kind not found,
// when there is none).
type Tenants interface {
	Tenant(ctx context.Context, id string) (*privacy.Tenant, error)
}

// Deps are the privacy center's collaborators.
type Deps struct {
	Tenants Tenants
}

// Center serves the privacy center.
type Center struct {
	tenants Tenants
	assets  *ui.Assets
}

// New returns the privacy center.
func New(d Deps) (*Center, error) {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	a, err := ui.NewAssets(sub)
	if err != nil {
		return nil, fmt.Errorf("privacy center assets: %w", err)
	}
	return &Center{tenants: d.Tenants, assets: a}, nil
}

// Handler returns the function's http.Handler.
func (c *Center) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/center/{tenant}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/center/"+r.PathValue("tenant")+"/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /api/center/{tenant}/{$}", c.page)
	mux.HandleFunc("GET /api/center/{tenant}/brand.css", c.brand)
	mux.HandleFunc("GET /api/center/{tenant}/{file}", func(w http.ResponseWriter, r *http.Request) {
		// Public files the embeddable form loads from a tenant's own site:
		// readable cross-origin (no credentials), like any CDN file.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		c.assets.Serve(w, r, r.PathValue("file"), ui.CSP())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
		}
		ui.NotFound(w, ui.CSP())
	})
	return mux
}

// tenant reads the tenant of the path; a missing or unknown tenant is a 404 page.
func (c *Center) tenant(w http.ResponseWriter, r *http.Request) (*privacy.Tenant, bool) {
	t, err := c.tenants.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		var pe *privacy.Error
		if errors.Is(err, privacy.ErrNotFound) || (errors.As(err, &pe) && pe.Kind == privacy.KindNotFound) {
			ui.NotFound(w, ui.CSP())
			return nil, false
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "the privacy center is unavailable; try again later", http.StatusServiceUnavailable)
		return nil, false
	}
	return t, true
}

// pageTmpl is parsed on first use: a start serves no page (issue 16).
var pageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Name}}</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="center.css">
<link rel="stylesheet" href="brand.css">
<script src="i18n.js" defer></script>
<script type="module" src="app.js"></script>
<link rel="modulepreload" href="core.js">
<link rel="modulepreload" href="form.js">
<link rel="modulepreload" href="status.js">
</head>
<body>
<a class="skip" href="#privops-center" data-i18n="skip">Skip to content</a>
<header class="brand">
{{if .Logo}}<img class="logo" src="{{.Logo}}" alt="">{{end}}
<span class="brand-name">{{.Name}}</span>
</header>
<main id="privops-center" tabindex="-1" data-tenant="{{.ID}}" data-api="/api/portal/{{.ID}}" data-name="{{.Name}}" data-lang="{{.Lang}}" data-contact="{{.Contact}}"></main>
</body>
</html>
`))
})

// page serves the privacy center in the tenant's brand, in the language the
// browser prefers (the page lets the subject switch).
func (c *Center) page(w http.ResponseWriter, r *http.Request) {
	t, ok := c.tenant(w, r)
	if !ok {
		return
	}
	var b bytes.Buffer
	err := pageTmpl().Execute(&b, struct{ ID, Name, Logo, Lang, Contact string }{
		t.ID, t.Name, t.Brand.LogoURL, privacy.PreferredLanguage(r.Header.Get("Accept-Language")), t.Contact})
	if err != nil {
		http.Error(w, "the privacy center is unavailable", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	ui.Secure(h, ui.CSP(t.Brand.LogoOrigin()))
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Language")
	_, _ = w.Write(b.Bytes())
}

// Default colours: both contrast with white text by more than 4.5:1.
const (
	defaultPrimary = "#1f5fae"
	defaultHeader  = "#1d2b3a"
)

// brand serves the tenant's colours as CSS custom properties: a stylesheet,
// not an inline style, so the CSP needs no 'unsafe-inline'. The colours were
// validated when the tenant saved them (#rrggbb only).
func (c *Center) brand(w http.ResponseWriter, r *http.Request) {
	t, ok := c.tenant(w, r)
	if !ok {
		return
	}
	primary, header := defaultPrimary, defaultHeader
	if t.Brand.PrimaryColor != "" {
		primary = t.Brand.PrimaryColor
	}
	if t.Brand.HeaderColor != "" {
		header = t.Brand.HeaderColor
	}
	h := w.Header()
	ui.Secure(h, ui.CSP())
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	fmt.Fprintf(w, ":root{--primary:%s;--header:%s}\n", primary, header)
}
