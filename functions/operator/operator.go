// Package operator is the cloud operator's API (HTTP trigger, route
// operator/{*path}, bearer JWT with an operator token): onboard tenants, list
// and read them, change their settings (JSON Merge Patch with If-Match),
// suspend and resume them, offboard them (GDPR Art. 28(3)(g): the request,
// its cancel, its progress and certificate, and the controller's return
// package behind a signed link), read a tenant's health as counts, and read
// and verify the operator's audit chain. A tenant token never reaches it: it
// gets 404, as if the API did not exist; an operator role that does not allow
// the action gets 403. Every change is audited in the operator's chain and in
// the tenant's own.
package operator

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/offboard"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// Service is what the operator API needs of the tenant lifecycle.
type Service interface {
	Tenant(ctx context.Context, id string) (*privacy.Tenant, error)
	Tenants(ctx context.Context, cursor string, limit int) (dsr.TenantPage, error)
	CreateTenant(ctx context.Context, in dsr.NewTenant, actor dsr.Actor) (*privacy.Tenant, error)
	UpdateTenantWith(ctx context.Context, tenantID, ifMatch string, change dsr.SettingsChange, actor dsr.Actor) (*privacy.Tenant, error)
	SuspendTenant(ctx context.Context, tenantID, reason string, actor dsr.Actor) (*privacy.Tenant, error)
	ResumeTenant(ctx context.Context, tenantID string, actor dsr.Actor) (*privacy.Tenant, error)
	OffboardTenant(ctx context.Context, tenantID, ifMatch string, choice privacy.OffboardChoice, actor dsr.Actor) (*privacy.Tenant, error)
	CancelOffboarding(ctx context.Context, tenantID, ifMatch string, actor dsr.Actor) (*privacy.Tenant, error)
	OperatorAudit(ctx context.Context, after int64, limit int) (dsr.AuditPage, error)
	VerifyOperatorAudit(ctx context.Context) (dsr.ChainReport, error)
}

// Offboardings is what the API needs of offboarding (shared/offboard): its
// progress or certificate, and the return package for a signed link.
type Offboardings interface {
	View(ctx context.Context, tenantID string) (offboard.View, error)
	Download(ctx context.Context, tenantID, expires, sig string) (io.ReadCloser, int64, error)
}

// Verifier checks a bearer token.
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

// Config holds the operator API's limits.
type Config struct {
	MaxBody int64
}

// Deps are the operator API's collaborators.
type Deps struct {
	Service      Service
	Offboardings Offboardings
	Verifier     Verifier
	// Incidents serves the breach routes (/api/operator/incidents...); nil: none.
	Incidents Incidents
	// Campaigns reads breach subject campaigns as counts; nil answers 501.
	Campaigns Campaigns
	// Requests, Inbound and Notices feed a tenant's health counts
	// (GET .../health); a nil Inbound or Notices leaves its count at 0.
	Requests Requests
	Inbound  InboundLog
	Notices  Notices
	// Now is the clock (overdue counts); nil: time.Now.
	Now func() time.Time
}

// Operator serves the operator routes.
type Operator struct {
	cfg Config
	svc Service
	off Offboardings
	ver Verifier
	inc Incidents
	bs  Campaigns

	reqs    Requests
	inbound InboundLog
	notices Notices
	now     func() time.Time
}

// New returns the operator API.
func New(cfg Config, d Deps) *Operator {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Operator{cfg: cfg, svc: d.Service, off: d.Offboardings, ver: d.Verifier, inc: d.Incidents, bs: d.Campaigns,
		reqs: d.Requests, inbound: d.Inbound, notices: d.Notices, now: d.Now}
}

// Routes lists the operator operations (the OpenAPI document lists the same).
func (o *Operator) Routes() []web.Route {
	return append([]web.Route{
		{Method: "POST", Pattern: "/api/operator/tenants", Handler: o.with(auth.ActionManageTenants, o.create)},
		{Method: "GET", Pattern: "/api/operator/tenants", Handler: o.with(auth.ActionOperatorRead, o.list)},
		{Method: "GET", Pattern: "/api/operator/tenants/{tenant}", Handler: o.with(auth.ActionOperatorRead, o.get)},
		{Method: "PATCH", Pattern: "/api/operator/tenants/{tenant}", Handler: o.with(auth.ActionManageTenants, o.update)},
		{Method: "POST", Pattern: "/api/operator/tenants/{tenant}/suspend", Handler: o.with(auth.ActionManageTenants, o.suspend)},
		{Method: "POST", Pattern: "/api/operator/tenants/{tenant}/resume", Handler: o.with(auth.ActionManageTenants, o.resume)},
		{Method: "POST", Pattern: "/api/operator/tenants/{tenant}/offboard", Handler: o.with(auth.ActionManageTenants, o.offboard)},
		{Method: "POST", Pattern: "/api/operator/tenants/{tenant}/offboard/cancel", Handler: o.with(auth.ActionManageTenants, o.cancelOffboard)},
		{Method: "GET", Pattern: "/api/operator/tenants/{tenant}/offboarding", Handler: o.with(auth.ActionOperatorRead, o.offboarding)},
		// The return package is fetched with its signed link, no token: the
		// operator hands the link to the controller.
		{Method: "GET", Pattern: "/api/operator/tenants/{tenant}/offboarding/package", Handler: o.offboardingPackage},
		{Method: "GET", Pattern: "/api/operator/tenants/{tenant}/health", Handler: o.with(auth.ActionOperatorRead, o.health)},
		{Method: "GET", Pattern: "/api/operator/tenants/{tenant}/retention/runs", Handler: o.with(auth.ActionOperatorRead, o.retentionRuns)},
		{Method: "GET", Pattern: "/api/operator/tenants/{tenant}/incidents/{incident}/campaign", Handler: o.with(auth.ActionOperatorRead, o.campaign)},
		{Method: "GET", Pattern: "/api/operator/audit", Handler: o.with(auth.ActionOperatorRead, o.audit)},
		{Method: "GET", Pattern: "/api/operator/audit/verify", Handler: o.with(auth.ActionOperatorRead, o.verifyAudit)},
	}, o.incidentRoutes()...)
}

// Handler returns the operator API's http.Handler.
func (o *Operator) Handler() http.Handler { return web.Mux(o.Routes()) }

type claimsKey struct{}

// with authenticates an operator token and authorises action.
func (o *Operator) with(action auth.Action, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := web.Authenticate(w, r, o.ver, "privops-operator")
		if !ok {
			return
		}
		// A tenant token is answered as if the operator API did not exist:
		// a tenant learns nothing of it, not even that it is there.
		if !c.Operator {
			web.Problem(w, r, privacy.Errorf(privacy.KindNotFound, "not-found", "no such endpoint"))
			return
		}
		if !c.Can(action) {
			web.Problem(w, r, privacy.Errorf(privacy.KindForbidden, "forbidden-role", "your role does not allow this action"))
			return
		}
		ctx := context.WithValue(r.Context(), claimsKey{}, c)
		if r.Method == http.MethodPost {
			// An offboarding (or its cancel) sent again with the same key
			// gets the first answer; the key is recorded in the change's write.
			ctx = dsr.WithIdempotencyKey(ctx, r.Header.Get("Idempotency-Key"))
		}
		next(w, r.WithContext(ctx))
	}
}

func actor(r *http.Request) dsr.Actor {
	c, _ := r.Context().Value(claimsKey{}).(auth.Claims)
	return dsr.Actor{Operator: c.Subject}
}

// TenantView is what the operator sees of a tenant: its settings, state and
// counts; never a secret (service signing secrets, inbound keys) and never a
// subject's data.
type TenantView struct {
	ID     string               `json:"id"`
	Status privacy.TenantStatus `json:"status"`
	dsr.TenantSettings
	Suspension   *privacy.Suspension  `json:"suspension,omitempty"`
	Offboarding  *privacy.Offboarding `json:"offboarding,omitempty"`
	Services     int                  `json:"services"`
	ActiveHolds  int                  `json:"activeHolds"`
	InboundKeys  int                  `json:"inboundKeys"`
	PendingAudit int                  `json:"pendingAuditEvents"`
	CreatedAt    time.Time            `json:"createdAt"`
	UpdatedAt    time.Time            `json:"updatedAt"`
}

// ViewOf returns the operator's view of t.
func ViewOf(t *privacy.Tenant) TenantView {
	v := TenantView{ID: t.ID, Status: t.Status, TenantSettings: dsr.SettingsOf(t), Suspension: t.Suspension, Offboarding: t.Offboarding,
		Services: len(t.Services), InboundKeys: len(t.InboundKeys), PendingAudit: len(t.PendingAudit),
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if v.Status == "" {
		v.Status = privacy.TenantActive
	}
	for _, h := range t.Holds {
		if h.ReleasedAt.IsZero() {
			v.ActiveHolds++
		}
	}
	return v
}

func (o *Operator) reply(w http.ResponseWriter, r *http.Request, t *privacy.Tenant, err error) {
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(t.ETag))
	web.JSON(w, http.StatusOK, ViewOf(t))
}

func (o *Operator) create(w http.ResponseWriter, r *http.Request) {
	var in dsr.NewTenant
	if err := web.Decode(w, r, o.cfg.MaxBody, &in); err != nil {
		web.Problem(w, r, err)
		return
	}
	t, err := o.svc.CreateTenant(r.Context(), in, actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(t.ETag))
	web.Created(w, "/api/operator/tenants/"+t.ID, ViewOf(t))
}

func (o *Operator) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			web.Problem(w, r, web.Invalid("invalid-limit", "limit must be between 1 and 200"))
			return
		}
		limit = n
	}
	page, err := o.svc.Tenants(r.Context(), q.Get("cursor"), limit)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Tenants []TenantView `json:"tenants"`
		Next    string       `json:"next,omitempty"`
	}{Tenants: make([]TenantView, 0, len(page.Tenants)), Next: page.Next}
	for _, t := range page.Tenants {
		out.Tenants = append(out.Tenants, ViewOf(t))
	}
	web.JSON(w, http.StatusOK, out)
}

func (o *Operator) get(w http.ResponseWriter, r *http.Request) {
	t, err := o.svc.Tenant(r.Context(), r.PathValue("tenant"))
	o.reply(w, r, t, err)
}

// update applies a JSON Merge Patch of the settings to the version If-Match
// names: If-Match is required (428 if-match-required), a stale one is 412.
func (o *Operator) update(w http.ResponseWriter, r *http.Request) {
	patch, err := web.DecodeMergePatch(w, r, o.cfg.MaxBody)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	ifMatch := web.IfMatch(r)
	if ifMatch == "" {
		web.Problem(w, r, privacy.Errorf(privacy.KindPreconditionRequired, "if-match-required", "send the tenant's ETag in If-Match"))
		return
	}
	t, err := o.svc.UpdateTenantWith(r.Context(), r.PathValue("tenant"), ifMatch, web.Merged[dsr.TenantSettings](patch), actor(r))
	o.reply(w, r, t, err)
}

func (o *Operator) suspend(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Reason string `json:"reason"`
	}
	if err := web.Decode(w, r, o.cfg.MaxBody, &b); err != nil {
		web.Problem(w, r, err)
		return
	}
	t, err := o.svc.SuspendTenant(r.Context(), r.PathValue("tenant"), b.Reason, actor(r))
	o.reply(w, r, t, err)
}

func (o *Operator) resume(w http.ResponseWriter, r *http.Request) {
	t, err := o.svc.ResumeTenant(r.Context(), r.PathValue("tenant"), actor(r))
	o.reply(w, r, t, err)
}

// offboard starts a tenant's offboarding: body {"choice": "return-then-delete"
// | "delete"}, If-Match required (428), a stale one 412. 202: the work goes on
// in the background; its progress is at Location.
func (o *Operator) offboard(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Choice privacy.OffboardChoice `json:"choice"`
	}
	if err := web.Decode(w, r, o.cfg.MaxBody, &b); err != nil {
		web.Problem(w, r, err)
		return
	}
	ifMatch := web.IfMatch(r)
	if ifMatch == "" {
		web.Problem(w, r, privacy.Errorf(privacy.KindPreconditionRequired, "if-match-required", "send the tenant's ETag in If-Match"))
		return
	}
	t, err := o.svc.OffboardTenant(r.Context(), r.PathValue("tenant"), ifMatch, b.Choice, actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(t.ETag))
	w.Header().Set("Location", "/api/operator/tenants/"+t.ID+"/offboarding")
	web.JSON(w, http.StatusAccepted, ViewOf(t))
}

// cancelOffboard returns an offboarding tenant to its former status before
// its purge starts (409 offboarding-purge-started after). If-Match required.
func (o *Operator) cancelOffboard(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	ifMatch := web.IfMatch(r)
	if ifMatch == "" {
		web.Problem(w, r, privacy.Errorf(privacy.KindPreconditionRequired, "if-match-required", "send the tenant's ETag in If-Match"))
		return
	}
	t, err := o.svc.CancelOffboarding(r.Context(), r.PathValue("tenant"), ifMatch, actor(r))
	o.reply(w, r, t, err)
}

// offboarding shows an offboarding's progress, or its certificate once the
// tenant is gone.
func (o *Operator) offboarding(w http.ResponseWriter, r *http.Request) {
	v, err := o.off.View(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, v)
}

// offboardingPackage streams the return package to the holder of its signed
// link; every download is audited.
func (o *Operator) offboardingPackage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rc, n, err := o.off.Download(r.Context(), r.PathValue("tenant"), q.Get("expires"), q.Get("sig"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="offboarding-`+r.PathValue("tenant")+`.zip"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.Copy(w, rc)
}

func (o *Operator) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after int64
	limit := 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			web.Problem(w, r, web.Invalid("invalid-cursor", "after must be a non-negative sequence number"))
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			web.Problem(w, r, web.Invalid("invalid-limit", "limit must be between 1 and 500"))
			return
		}
		limit = n
	}
	page, err := o.svc.OperatorAudit(r.Context(), after, limit)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if page.Events == nil {
		page.Events = []privacy.AuditEvent{}
	}
	web.JSON(w, http.StatusOK, page)
}

func (o *Operator) verifyAudit(w http.ResponseWriter, r *http.Request) {
	rep, err := o.svc.VerifyOperatorAudit(r.Context())
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, rep)
}
