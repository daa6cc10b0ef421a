// Package portal is the public privacy-center API (HTTP trigger, route
// portal/{*path}): a data subject submits a request for a tenant, confirms it
// with the one-time code mailed to them, and follows it with the request token
// handed back at submission. Side effects: a stored request, audit entries, a
// code mail, notice messages. CORS is allowed per tenant for its own portal
// origins only.
package portal

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// Service is what the portal needs of the request lifecycle.
type Service interface {
	Tenant(ctx context.Context, id string) (*privacy.Tenant, error)
	Submit(ctx context.Context, tenantID string, sub dsr.Submission, idemKey string, actor dsr.Actor) (*dsr.Submitted, error)
	Verify(ctx context.Context, tenantID, id, code string) (*privacy.Request, error)
	Resend(ctx context.Context, tenantID, id string) error
	Get(ctx context.Context, tenantID, id string) (*privacy.Request, error)
	CheckToken(tenantID, id, token string) bool
	PackageLinkOf(r *privacy.Request) *dsr.PackageLink
	Download(ctx context.Context, tenantID, id, expires, sig string) (io.ReadCloser, int64, error)
}

// Config holds the portal's limits.
type Config struct {
	MaxBody        int64 // bytes per request body
	SubmitsPerIP   int   // per minute per client address
	SubmitsPerMail int   // per hour per subject address
	VerifiesPerIP  int   // per minute per client address (codes and resends)
	TrustForwarded bool  // take the client address from X-Forwarded-For
}

// Deps are the portal's collaborators.
type Deps struct {
	Service Service
	Now     func() time.Time
}

// Portal serves the portal routes.
type Portal struct {
	cfg     Config
	svc     Service
	perIP   *web.Limiter
	perMail *web.Limiter
	verify  *web.Limiter
}

// New returns the portal.
func New(cfg Config, d Deps) *Portal {
	return &Portal{
		cfg: cfg, svc: d.Service,
		perIP:   &web.Limiter{Max: cfg.SubmitsPerIP, Window: time.Minute, Now: d.Now},
		perMail: &web.Limiter{Max: cfg.SubmitsPerMail, Window: time.Hour, Now: d.Now},
		verify:  &web.Limiter{Max: cfg.VerifiesPerIP, Window: time.Minute, Now: d.Now},
	}
}

// Routes lists the portal's operations (the OpenAPI document lists the same).
func (p *Portal) Routes() []web.Route {
	return []web.Route{
		{Method: "POST", Pattern: "/api/portal/{tenant}/requests", Handler: p.cors(p.submit)},
		{Method: "GET", Pattern: "/api/portal/{tenant}/requests/{id}", Handler: p.cors(p.status)},
		{Method: "POST", Pattern: "/api/portal/{tenant}/requests/{id}/verify", Handler: p.cors(p.verifyCode)},
		{Method: "POST", Pattern: "/api/portal/{tenant}/requests/{id}/resend", Handler: p.cors(p.resend)},
		{Method: "GET", Pattern: "/api/portal/{tenant}/requests/{id}/package", Handler: p.download},
		{Method: "OPTIONS", Pattern: "/api/portal/{tenant}/requests", Handler: p.cors(p.preflight)},
		{Method: "OPTIONS", Pattern: "/api/portal/{tenant}/requests/{id}", Handler: p.cors(p.preflight)},
		{Method: "OPTIONS", Pattern: "/api/portal/{tenant}/requests/{id}/verify", Handler: p.cors(p.preflight)},
		{Method: "OPTIONS", Pattern: "/api/portal/{tenant}/requests/{id}/resend", Handler: p.cors(p.preflight)},
	}
}

// Handler returns the portal's http.Handler.
func (p *Portal) Handler() http.Handler { return web.Mux(p.Routes()) }

// cors checks the Origin of browser calls against the tenant's portal origins.
// Calls without an Origin (curl, servers) pass; a foreign origin is refused
// before anything is read or written.
func (p *Portal) cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || sameOrigin(origin, r) {
			// The privacy center (functions/center) is served from this host:
			// its calls are same-origin and need no CORS.
			next(w, r)
			return
		}
		t, err := p.svc.Tenant(r.Context(), r.PathValue("tenant"))
		if err != nil {
			web.Problem(w, r, err)
			return
		}
		if !t.AllowsOrigin(origin) {
			web.Problem(w, r, privacy.Errorf(privacy.KindForbidden, "origin-not-allowed", "this origin is not a portal of the tenant"))
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		next(w, r)
	}
}

// sameOrigin reports whether a browser's Origin names the host the request
// was sent to (the privacy center's own page). The host is compared, not the
// scheme: behind the Functions front end TLS ends before this handler.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") && strings.EqualFold(u.Host, r.Host)
}

func (p *Portal) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, Idempotency-Key")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// submitted is the answer to a submission.
type submitted struct {
	ID        string         `json:"id"`
	Token     string         `json:"token"`
	Status    privacy.Status `json:"status"`
	CodeTTL   string         `json:"codeExpiresAt"`
	StatusURL string         `json:"statusUrl"`
}

func (p *Portal) submit(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if ok, wait := p.perIP.Take(tenant + "|" + web.ClientIP(r, p.cfg.TrustForwarded)); !ok {
		web.Problem(w, r, web.RateLimited("too many requests from this address; try again later", wait))
		return
	}
	var sub dsr.Submission
	if err := web.Decode(w, r, p.cfg.MaxBody, &sub); err != nil {
		web.Problem(w, r, err)
		return
	}
	// Only a valid submission counts against its address, under the address's
	// normalised form: invalid bodies carrying someone else's address must
	// not lock that person out of submitting.
	if sub.Language == "" {
		// The form sends its language; other callers get the one their
		// Accept-Language prefers.
		sub.Language = privacy.PreferredLanguage(r.Header.Get("Accept-Language"))
	}
	if err := sub.Validate(); err != nil {
		web.Problem(w, r, err)
		return
	}
	if ok, wait := p.perMail.Take(tenant + "|" + privacy.NormalizeEmail(sub.Email)); !ok {
		web.Problem(w, r, web.RateLimited("too many requests for this email address; try again later", wait))
		return
	}
	res, err := p.svc.Submit(r.Context(), tenant, sub, r.Header.Get("Idempotency-Key"), dsr.Actor{})
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	req := res.Request
	body := submitted{ID: req.ID, Token: res.Token, Status: req.Status,
		CodeTTL:   req.Verification.ExpiresAt.Format(time.RFC3339),
		StatusURL: "/api/portal/" + req.TenantID + "/requests/" + req.ID}
	if res.Replay {
		web.JSON(w, http.StatusOK, body)
		return
	}
	web.Created(w, body.StatusURL, body)
}

// authorized checks the request token; a wrong token looks like an unknown
// request so ids cannot be probed.
func (p *Portal) authorized(r *http.Request) bool {
	tok := web.Bearer(r)
	return tok != "" && p.svc.CheckToken(r.PathValue("tenant"), r.PathValue("id"), tok)
}

var errUnknown = privacy.Errorf(privacy.KindNotFound, "unknown-request", "no such request, or the request token does not match")

type codeBody struct {
	Code string `json:"code"`
}

func (p *Portal) verifyCode(w http.ResponseWriter, r *http.Request) {
	if ok, wait := p.verify.Take(r.PathValue("tenant") + "|" + web.ClientIP(r, p.cfg.TrustForwarded)); !ok {
		web.Problem(w, r, web.RateLimited("too many attempts from this address; try again later", wait))
		return
	}
	if !p.authorized(r) {
		web.Problem(w, r, errUnknown)
		return
	}
	var b codeBody
	if err := web.Decode(w, r, p.cfg.MaxBody, &b); err != nil {
		web.Problem(w, r, err)
		return
	}
	req, err := p.svc.Verify(r.Context(), r.PathValue("tenant"), r.PathValue("id"), b.Code)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, statusOf(req))
}

func (p *Portal) resend(w http.ResponseWriter, r *http.Request) {
	if ok, wait := p.verify.Take(r.PathValue("tenant") + "|" + web.ClientIP(r, p.cfg.TrustForwarded)); !ok {
		web.Problem(w, r, web.RateLimited("too many attempts from this address; try again later", wait))
		return
	}
	if !p.authorized(r) {
		web.Problem(w, r, errUnknown)
		return
	}
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	if err := p.svc.Resend(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		web.Problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (p *Portal) status(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		web.Problem(w, r, errUnknown)
		return
	}
	req, err := p.svc.Get(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	st := statusOf(req)
	st.Package = p.svc.PackageLinkOf(req)
	web.JSON(w, http.StatusOK, st)
}

// download streams an export package to the holder of its signed link (the
// link mailed to the subject); every download is audited. It is a plain link
// opened in a browser, so no CORS.
func (p *Portal) download(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rc, n, err := p.svc.Download(r.Context(), r.PathValue("tenant"), r.PathValue("id"), q.Get("expires"), q.Get("sig"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="export-`+r.PathValue("id")+`.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.Copy(w, rc)
}

// Status is what the subject sees of their request: where it stands, the
// legal clock and which law sets it, an extension and its reason, a pause
// waiting for the subject, and how far the work is, as counts: never a
// service's name or an admin's note.
type Status struct {
	ID         string              `json:"id"`
	Type       privacy.RequestType `json:"type"`
	Status     privacy.Status      `json:"status"`
	Language   string              `json:"language"`
	ReceivedAt time.Time           `json:"receivedAt"`
	DueAt      time.Time           `json:"dueAt,omitzero"`
	// Regime is the law whose deadline is the earliest (e.g. eu-gdpr), Rule
	// that deadline's rule with its source.
	Regime   string `json:"regime,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Extended bool   `json:"extended"`
	// ExtensionReason is the reason given to the subject for the extension.
	ExtensionReason string `json:"extensionReason,omitempty"`
	// Paused: the clock stands still until the subject answers Question.
	Paused   bool   `json:"paused"`
	Question string `json:"question,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Progress counts the request's tasks once approved.
	Progress *Progress `json:"progress,omitempty"`
	// Package is the export package's download link (while valid) and expiry.
	Package *dsr.PackageLink `json:"package,omitempty"`
}

// Progress is how many of the request's steps have ended.
type Progress struct {
	Total int `json:"total"`
	Ended int `json:"ended"`
}

func statusOf(r *privacy.Request) Status {
	s := Status{ID: r.ID, Type: r.Type, Status: r.Status, Language: r.LanguageOf(), ReceivedAt: r.ReceivedAt,
		DueAt: r.Due.At, Regime: r.Due.Regime, Rule: r.Due.Rule, Extended: r.Due.Extended}
	if r.Decision != nil && r.Status == privacy.StatusDenied {
		s.Reason = r.Decision.Reason
	}
	if r.Extension != nil {
		// The reason the extension notice tells the subject.
		s.ExtensionReason = r.Extension.Reason
	}
	if p := r.OpenPause(); p != nil {
		s.Paused, s.Question = true, p.Reason
	}
	if len(r.Tasks) > 0 {
		s.Progress = &Progress{Total: len(r.Tasks)}
		for _, t := range r.Tasks {
			if t.Status.Terminal() {
				s.Progress.Ended++
			}
		}
	}
	return s
}
