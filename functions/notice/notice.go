// Package notice serves the public breach notices (HTTP trigger, route
// notice/{*path}, public): GET /api/notice/{tenant}/{incident} answers the
// notice a tenant published for an incident, in English and Simplified
// Chinese, as JSON, or as an HTML page with ?format=html or an Accept that
// prefers text/html. A notice is published when the tenant chooses a public
// communication instead of individual notices (GDPR Art. 34(3)(c)), or when
// individual notices failed. It holds the approved notice text only: no
// recipient, no count of them. No side effects.
package notice

import (
	"context"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// Notices reads published notices.
type Notices interface {
	PublicNotice(ctx context.Context, tenantID, incidentID string) (*breachsend.Campaign, error)
}

// Deps are the function's collaborators.
type Deps struct {
	Notices Notices // nil: no notice is published
}

// Notice serves the public notice pages.
type Notice struct{ d Deps }

// New returns the function.
func New(d Deps) *Notice { return &Notice{d: d} }

// Routes lists the function's operations.
func (n *Notice) Routes() []web.Route {
	return []web.Route{{Method: "GET", Pattern: "/api/notice/{tenant}/{incident}", Handler: n.get}}
}

// Handler returns the http.Handler.
func (n *Notice) Handler() http.Handler { return web.Mux(n.Routes()) }

// View is the public notice as JSON.
type View struct {
	TenantID    string            `json:"tenantId"`
	IncidentID  string            `json:"incidentId"`
	Version     int               `json:"version"`
	PublishedAt time.Time         `json:"publishedAt"`
	Reason      string            `json:"reason"` // tenant-choice or individual-notice-failed
	Subject     map[string]string `json:"subject"`
	Text        map[string]string `json:"text"`
}

func (n *Notice) get(w http.ResponseWriter, r *http.Request) {
	if n.d.Notices == nil {
		web.Problem(w, r, privacy.Errorf(privacy.KindNotFound, "unknown-notice", "no public notice for this incident"))
		return
	}
	c, err := n.d.Notices.PublicNotice(r.Context(), r.PathValue("tenant"), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	v := View{TenantID: c.TenantID, IncidentID: c.IncidentID, Version: c.NoticeVersion, PublishedAt: c.PublishedAt,
		Reason: c.PublicReason, Subject: c.Subject, Text: c.Text}
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Vary", "Accept")
	if r.URL.Query().Get("format") == "html" || prefersHTML(r.Header.Get("Accept")) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = page().Execute(w, v)
		return
	}
	web.JSON(w, http.StatusOK, v)
}

// prefersHTML reports whether a browser asked for the page (text/html
// before any JSON type in Accept).
func prefersHTML(accept string) bool {
	h, j := strings.Index(accept, "text/html"), strings.Index(accept, "json")
	return h >= 0 && (j < 0 || h < j)
}

// page is the notice in both languages; html/template escapes the text. It is
// parsed on first use: a start serves no page (issue 16).
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("notice").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{index .Subject "en"}}</title>
<style>body{font:1rem/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}p{white-space:pre-wrap}</style></head>
<body>
<article lang="en"><h1>{{index .Subject "en"}}</h1><p>{{index .Text "en"}}</p></article>
{{with index .Text "zh-CN"}}<hr><article lang="zh-CN"><h1>{{index $.Subject "zh-CN"}}</h1><p>{{.}}</p></article>{{end}}
<footer><small>Published {{.PublishedAt.Format "2006-01-02"}} (UTC). Notice version {{.Version}}.</small></footer>
</body></html>
`))
})
