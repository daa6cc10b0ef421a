// Package ui holds what the suite's browser pages share: the security headers
// every page and asset is served with (a Content-Security-Policy without
// 'unsafe-inline'), serving of embedded assets, and the standalone host's
// index page. Standard library only; no side effects.
package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// CSP returns the Content-Security-Policy of a page: scripts, styles and
// fetches from its own origin only, images also from imgOrigins (a tenant's
// logo), no frames, no plugins, no inline script or style.
func CSP(imgOrigins ...string) string {
	img := "'self'"
	for _, o := range imgOrigins {
		if o != "" {
			img += " " + o
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img +
		"; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// CSPConnect is CSP with fetches also allowed to the given origins (an
// identity provider the admin console signs in with).
func CSPConnect(origins ...string) string {
	csp := CSP()
	extra := ""
	for _, o := range origins {
		if o != "" {
			extra += " " + o
		}
	}
	return strings.Replace(csp, "connect-src 'self'", "connect-src 'self'"+extra, 1)
}

// Secure sets the headers every page and asset carries.
func Secure(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
}

// Assets serves embedded files by name with a strong ETag, so a revisit costs
// a 304. A file is read and hashed on its first request, not at start.
type Assets struct {
	files map[string]*asset
}

type asset struct {
	ctype string
	load  func() (content, error) // read once
}

type content struct {
	body []byte
	etag string
}

// contentTypes are the types of the asset files the pages ship, by extension.
// A table of our own rather than mime.TypeByExtension: that one reads the
// machine's MIME databases (/usr/share/mime/globs2, /etc/mime.types) on first
// use, 5 % of start-up's CPU (perf), and answers differently from machine
// to machine.
var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".html":  "text/html; charset=utf-8",
	".ico":   "image/x-icon",
	".js":    "text/javascript; charset=utf-8",
	".json":  "application/json",
	".png":   "image/png",
	".svg":   "image/svg+xml",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

// NewAssets lists every file of fsys (its base names must be unique, and its
// extensions among contentTypes').
func NewAssets(fsys fs.FS) (*Assets, error) {
	a := &Assets{files: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("asset %s: no content type for %q", p, path.Ext(p))
		}
		if _, dup := a.files[path.Base(p)]; dup {
			return fmt.Errorf("asset %s: another file is also named %s", p, path.Base(p))
		}
		a.files[path.Base(p)] = &asset{ctype: ct, load: sync.OnceValues(func() (content, error) {
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return content{}, err
			}
			sum := sha256.Sum256(b)
			return content{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}, nil
		})}
		return nil
	})
	return a, err
}

// Has reports whether name is an asset.
func (a *Assets) Has(name string) bool { _, ok := a.files[name]; return ok }

// Serve writes the asset name (404 if there is none). Assets may be cached
// for a short while and revalidated: they change with the binary.
func (a *Assets) Serve(w http.ResponseWriter, r *http.Request, name, csp string) {
	f, ok := a.files[name]
	if !ok {
		NotFound(w, csp)
		return
	}
	c, err := f.load()
	if err != nil { // an embedded file that cannot be read: a broken build
		http.Error(w, "asset unavailable", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	Secure(h, csp)
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", c.etag)
	h.Set("Cache-Control", "public, max-age=300, must-revalidate")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, c.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(c.body))
}

// NotFound answers a page that does not exist.
func NotFound(w http.ResponseWriter, csp string) {
	Secure(w.Header(), csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Not found</title><main><h1>Not found</h1><p>There is no such page.</p></main></html>\n"))
}

// indexTmpl is parsed on first use: a start serves no page (issue 16).
var indexTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>privops</title>
{{if .Demo}}<link rel="icon" href="/api/center/{{.Demo}}/favicon.svg" type="image/svg+xml">{{end}}</head>
<body>
<main>
<h1>privops</h1>
<p>Privacy operations, running standalone.</p>
<ul>
{{if .Demo}}<li><a href="/api/center/{{.Demo}}/">Privacy center of the demo tenant</a> (for data subjects)</li>{{end}}
<li><a href="/api/console/">Admin console</a> (for tenant privacy admins)</li>
<li><a href="/api/openapi.json">API description</a> (OpenAPI 3.1)</li>
</ul>
</main>
</body>
</html>
`))
})

// Index returns the standalone host's page at "/": links to the demo
// tenant's privacy center (when demo names it) and to the admin console.
func Index(demo string) http.Handler {
	var b bytes.Buffer
	_ = indexTmpl().Execute(&b, struct{ Demo string }{demo})
	page := b.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		Secure(w.Header(), CSP())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}
