// Package console is the admin console (HTTP trigger, route console/{*path},
// public pages; every call they make goes to the admin API with the admin's
// bearer token): tenant privacy admins sign in, work the request queue,
// decide requests and look after services, legal holds, inbound keys,
// retention and breach incidents; operators see the tenant list and each
// tenant's health (counts only, through the operator API). GET /api/console/ serves the page; its script and styles
// are embedded in the binary (no build step, no CDN); GET
// /api/console/config.json tells the page how to sign in (pasting a token, or
// the identity provider's authorization code flow with PKCE). No side effects
// of its own: it only serves files.
package console

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"

	"github.com/privops/privops/shared/ui"
)

//go:embed assets
var assetFS embed.FS

// OIDC is the identity provider the console signs in with (OpenID Connect
// authorization code flow with PKCE, RFC 7636; a public client, no secret).
// A zero Issuer: sign in by pasting a token.
type OIDC struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientId"`
	Scope    string `json:"scope"`
}

// Config is the console's configuration.
type Config struct {
	OIDC OIDC
	// TenantClaim is the access-token claim naming the tenant (AUTH_TENANT_CLAIM).
	TenantClaim string
	// RolesClaim is the claim listing the token's roles (AUTH_ROLES_CLAIM):
	// an operator role shows the operator's pages instead of a tenant's.
	RolesClaim string
}

// Console serves the admin console's files.
type Console struct {
	assets *ui.Assets
	config []byte
	csp    string
}

// New returns the admin console.
func New(cfg Config) (*Console, error) {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	a, err := ui.NewAssets(sub)
	if err != nil {
		return nil, fmt.Errorf("admin console assets: %w", err)
	}
	c := &Console{assets: a, csp: ui.CSP()}
	body := struct {
		OIDC        *OIDC  `json:"oidc,omitempty"`
		TenantClaim string `json:"tenantClaim"`
		RolesClaim  string `json:"rolesClaim,omitempty"`
	}{TenantClaim: cfg.TenantClaim, RolesClaim: cfg.RolesClaim}
	if cfg.OIDC.Issuer != "" {
		o := cfg.OIDC
		body.OIDC = &o
		u, err := url.Parse(o.Issuer)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("admin console: issuer %q is not a URL", o.Issuer)
		}
		// The page fetches the discovery document and redeems the code at
		// the provider (Entra ID: the same origin as the issuer).
		c.csp = ui.CSPConnect(u.Scheme + "://" + u.Host)
	}
	if c.config, err = json.Marshal(body); err != nil {
		return nil, err
	}
	return c, nil
}

// Handler returns the function's http.Handler.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/console/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /api/console/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		c.assets.Serve(w, r, "index.html", c.csp)
	})
	mux.HandleFunc("GET /api/console/config.json", func(w http.ResponseWriter, r *http.Request) {
		ui.Secure(w.Header(), c.csp)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(c.config)
	})
	mux.HandleFunc("GET /api/console/{file}", func(w http.ResponseWriter, r *http.Request) {
		c.assets.Serve(w, r, r.PathValue("file"), c.csp)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { ui.NotFound(w, ui.CSP()) })
	return mux
}
