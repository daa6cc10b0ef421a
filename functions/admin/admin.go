// Package admin is the tenant privacy admins' API (HTTP trigger, route
// admin/{*path}, bearer JWT): list and read requests, approve, deny, extend,
// cancel, submit on a subject's behalf, read and verify the audit trail, and
// change the tenant's settings. The token's tenant must be the tenant in the
// route (otherwise 404, so tenants cannot be probed) and its role must allow the
// action (otherwise 403). Every change is audited.
package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/web"
)

// Service is what the admin API needs of the request lifecycle.
type Service interface {
	Tenant(ctx context.Context, id string) (*privacy.Tenant, error)
	Submit(ctx context.Context, tenantID string, sub dsr.Submission, idemKey string, actor dsr.Actor) (*dsr.Submitted, error)
	Get(ctx context.Context, tenantID, id string) (*privacy.Request, error)
	List(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error)
	Approve(ctx context.Context, tenantID, id string, actor dsr.Actor) (*privacy.Request, error)
	Deny(ctx context.Context, tenantID, id string, actor dsr.Actor, reason string) (*privacy.Request, error)
	Extend(ctx context.Context, tenantID, id string, actor dsr.Actor, reason string) (*privacy.Request, error)
	Cancel(ctx context.Context, tenantID, id string, actor dsr.Actor, reason string) (*privacy.Request, error)
	Pause(ctx context.Context, tenantID, id string, actor dsr.Actor, question string) (*privacy.Request, error)
	Resume(ctx context.Context, tenantID, id string, actor dsr.Actor) (*privacy.Request, error)
	Audit(ctx context.Context, tenantID string, after int64, limit int) (dsr.AuditPage, error)
	VerifyAudit(ctx context.Context, tenantID string) (dsr.ChainReport, error)
	Configure(ctx context.Context, tenantID, ifMatch string, in dsr.TenantSettings, actor dsr.Actor) (*privacy.Tenant, error)
	ConfigureWith(ctx context.Context, tenantID, ifMatch string, change dsr.SettingsChange, actor dsr.Actor) (*privacy.Tenant, error)
	PutService(ctx context.Context, tenantID string, in privacy.Service, actor dsr.Actor) (*privacy.Service, bool, error)
	DeleteService(ctx context.Context, tenantID, id string, actor dsr.Actor) error
	RotateSecret(ctx context.Context, tenantID, id string, actor dsr.Actor) (*privacy.Service, error)
	PlaceHold(ctx context.Context, tenantID string, in dsr.HoldInput, actor dsr.Actor) (*privacy.Hold, error)
	ReleaseHold(ctx context.Context, tenantID, id string, actor dsr.Actor) (*privacy.Hold, error)
	RetryTasks(ctx context.Context, tenantID, requestID, taskID string, actor dsr.Actor) (*privacy.Request, error)
	CompleteManual(ctx context.Context, tenantID, requestID, taskID string, res dsr.Result, evidence []byte, actor dsr.Actor) (*privacy.Task, error)
	Certificate(ctx context.Context, tenantID, id string) ([]byte, *dsr.Certificate, error)
	PackageLinkOf(r *privacy.Request) *dsr.PackageLink
	ReissueLink(ctx context.Context, tenantID, id string, actor dsr.Actor) (*dsr.PackageLink, error)
	Tombstones(ctx context.Context, tenantID, service string, after int64, limit int) ([]dsr.Tombstone, int64, error)
	InboundKeys(ctx context.Context, tenantID string) ([]privacy.ServiceSecret, error)
	CreateInboundKey(ctx context.Context, tenantID string, actor dsr.Actor) (*privacy.ServiceSecret, error)
	DeleteInboundKey(ctx context.Context, tenantID, keyID string, actor dsr.Actor) error
	ListInbound(ctx context.Context, tenantID string, f privacy.InboundFilter) (privacy.InboundPage, error)
	RetentionPolicy(ctx context.Context, tenantID, id string) (*privacy.RetentionPolicy, error)
	PutRetentionPolicy(ctx context.Context, tenantID string, in privacy.RetentionPolicy, actor dsr.Actor) (*privacy.RetentionPolicy, bool, error)
	DeleteRetentionPolicy(ctx context.Context, tenantID, id string, actor dsr.Actor) error
	ApproveRetentionPolicy(ctx context.Context, tenantID, id string, actor dsr.Actor) (*privacy.RetentionPolicy, error)
	RetentionFloors(ctx context.Context, tenantID string) ([]retention.Floor, error)
}

// Verifier checks a bearer token.
type Verifier interface {
	Verify(ctx context.Context, token string) (auth.Claims, error)
}

// Config holds the admin API's limits.
type Config struct {
	MaxBody     int64
	MaxEvidence int64 // largest evidence file of a manual task (5 MiB)
}

// Deps are the admin API's collaborators.
type Deps struct {
	Service  Service
	Verifier Verifier
	// Retention answers previews; nil answers 501 retention-not-available.
	Retention Retention
	// Incidents serves the tenant's breach notices (/api/admin/{tenant}/incidents...); nil: none.
	Incidents Incidents
	// Campaigns notifies breach subjects; nil answers 501
	// breach-notification-not-available.
	Campaigns Campaigns
}

// Admin serves the admin routes.
type Admin struct {
	cfg Config
	svc Service
	ver Verifier
	ret Retention
	inc Incidents
	bs  Campaigns
}

// New returns the admin API.
func New(cfg Config, d Deps) *Admin {
	if cfg.MaxEvidence <= 0 {
		cfg.MaxEvidence = 5 << 20
	}
	return &Admin{cfg: cfg, svc: d.Service, ver: d.Verifier, ret: d.Retention, inc: d.Incidents, bs: d.Campaigns}
}

// Routes lists the admin operations (the OpenAPI document lists the same).
func (a *Admin) Routes() []web.Route {
	return append([]web.Route{
		{Method: "GET", Pattern: "/api/admin/{tenant}/requests", Handler: a.with(auth.ActionRead, a.list)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests", Handler: a.with(auth.ActionSubmit, a.submit)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/requests/{id}", Handler: a.with(auth.ActionRead, a.get)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/approve", Handler: a.with(auth.ActionDecide, a.approve)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/deny", Handler: a.with(auth.ActionDecide, a.deny)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/extend", Handler: a.with(auth.ActionDecide, a.extend)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/cancel", Handler: a.with(auth.ActionDecide, a.cancel)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/pause", Handler: a.with(auth.ActionDecide, a.pause)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/resume", Handler: a.with(auth.ActionDecide, a.resume)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/audit", Handler: a.with(auth.ActionReadAudit, a.audit)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/audit/verify", Handler: a.with(auth.ActionReadAudit, a.verifyAudit)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/settings", Handler: a.with(auth.ActionRead, a.settings)},
		{Method: "PUT", Pattern: "/api/admin/{tenant}/settings", Handler: a.with(auth.ActionConfigure, a.configure)},
		{Method: "PATCH", Pattern: "/api/admin/{tenant}/settings", Handler: a.with(auth.ActionConfigure, a.patchSettings)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/retry", Handler: a.with(auth.ActionDecide, a.retryFailed)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/tasks/{task}/retry", Handler: a.with(auth.ActionDecide, a.retryTask)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/tasks/{task}/complete", Handler: a.with(auth.ActionDecide, a.completeTask)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/requests/{id}/certificate", Handler: a.with(auth.ActionRead, a.certificate)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/requests/{id}/package/link", Handler: a.with(auth.ActionDecide, a.reissueLink)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/services", Handler: a.with(auth.ActionRead, a.listServices)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/services/{service}", Handler: a.with(auth.ActionRead, a.getService)},
		{Method: "PUT", Pattern: "/api/admin/{tenant}/services/{service}", Handler: a.with(auth.ActionConfigure, a.putService)},
		{Method: "DELETE", Pattern: "/api/admin/{tenant}/services/{service}", Handler: a.with(auth.ActionConfigure, a.deleteService)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/services/{service}/rotate-secret", Handler: a.with(auth.ActionConfigure, a.rotateSecret)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/holds", Handler: a.with(auth.ActionRead, a.listHolds)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/holds", Handler: a.with(auth.ActionConfigure, a.placeHold)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/holds/{hold}/release", Handler: a.with(auth.ActionConfigure, a.releaseHold)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/tombstones", Handler: a.with(auth.ActionReadAudit, a.tombstones)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/inbound-keys", Handler: a.with(auth.ActionRead, a.listInboundKeys)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/inbound-keys", Handler: a.with(auth.ActionConfigure, a.createInboundKey)},
		{Method: "DELETE", Pattern: "/api/admin/{tenant}/inbound-keys/{key}", Handler: a.with(auth.ActionConfigure, a.deleteInboundKey)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/inbound", Handler: a.with(auth.ActionRead, a.listInbound)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/retention/policies", Handler: a.with(auth.ActionRead, a.listRetentionPolicies)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/retention/policies/{policy}", Handler: a.with(auth.ActionRead, a.getRetentionPolicy)},
		{Method: "PUT", Pattern: "/api/admin/{tenant}/retention/policies/{policy}", Handler: a.with(auth.ActionConfigure, a.putRetentionPolicy)},
		{Method: "DELETE", Pattern: "/api/admin/{tenant}/retention/policies/{policy}", Handler: a.with(auth.ActionConfigure, a.deleteRetentionPolicy)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/retention/policies/{policy}/approve", Handler: a.with(auth.ActionConfigure, a.approveRetentionPolicy)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/retention/floors", Handler: a.with(auth.ActionRead, a.retentionFloors)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/retention/preview", Handler: a.with(auth.ActionConfigure, a.previewRetention)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/retention/runs", Handler: a.with(auth.ActionRead, a.listRetentionRuns)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/retention/runs/{run}", Handler: a.with(auth.ActionRead, a.getRetentionRun)},
	}, append(a.incidentRoutes(), a.breachSendRoutes()...)...)
}

// Handler returns the admin API's http.Handler.
func (a *Admin) Handler() http.Handler { return web.Mux(a.Routes()) }

type claimsKey struct{}

// with authenticates the bearer token and authorises action for the route's
// tenant before the handler runs.
func (a *Admin) with(action auth.Action, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := web.Authenticate(w, r, a.ver, "privops")
		if !ok {
			return
		}
		// An operator token names no tenant, so it never gets here: the
		// operator API is a door of its own.
		if c.Operator || c.TenantID != r.PathValue("tenant") {
			web.Problem(w, r, privacy.Errorf(privacy.KindNotFound, "unknown-tenant", "no such tenant"))
			return
		}
		if !c.Can(action) {
			web.Problem(w, r, privacy.Errorf(privacy.KindForbidden, "forbidden-role", "your role does not allow this action"))
			return
		}
		ctx := context.WithValue(r.Context(), claimsKey{}, c)
		if r.Method == http.MethodPost || r.Method == http.MethodDelete {
			// A state change sent again with the same key gets the first
			// answer (the lifecycle records the key in the change's write).
			ctx = dsr.WithIdempotencyKey(ctx, r.Header.Get("Idempotency-Key"))
		}
		next(w, r.WithContext(ctx))
	}
}

func actor(r *http.Request) dsr.Actor {
	c, _ := r.Context().Value(claimsKey{}).(auth.Claims)
	return dsr.Actor{Admin: c.Subject}
}

func (a *Admin) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := privacy.RequestFilter{Status: privacy.Status(q.Get("status")), Type: privacy.RequestType(q.Get("type")), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			web.Problem(w, r, web.Invalid("invalid-limit", "limit must be between 1 and 200"))
			return
		}
		f.Limit = n
	}
	page, err := a.svc.List(r.Context(), r.PathValue("tenant"), f)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Requests []RequestView `json:"requests"`
		Next     string        `json:"next,omitempty"`
	}{Requests: make([]RequestView, 0, len(page.Requests)), Next: page.Next}
	for _, req := range page.Requests {
		out.Requests = append(out.Requests, viewOf(req))
	}
	web.JSON(w, http.StatusOK, out)
}

func (a *Admin) submit(w http.ResponseWriter, r *http.Request) {
	var sub dsr.Submission
	if err := web.Decode(w, r, a.cfg.MaxBody, &sub); err != nil {
		web.Problem(w, r, err)
		return
	}
	res, err := a.svc.Submit(r.Context(), r.PathValue("tenant"), sub, r.Header.Get("Idempotency-Key"), actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if res.Replay {
		web.JSON(w, http.StatusOK, viewOf(res.Request))
		return
	}
	web.Created(w, "/api/admin/"+res.Request.TenantID+"/requests/"+res.Request.ID, viewOf(res.Request))
}

func (a *Admin) get(w http.ResponseWriter, r *http.Request) {
	req, err := a.svc.Get(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	a.reply(w, r, req, err)
}

func (a *Admin) approve(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	req, err := a.svc.Approve(r.Context(), r.PathValue("tenant"), r.PathValue("id"), actor(r))
	a.reply(w, r, req, err)
}

// reasonBody carries the reason of a denial, extension or cancellation.
type reasonBody struct {
	Reason string `json:"reason"`
}

// A request without a body is a request without a reason: the service answers
// reason-required where the law wants one (deny, extend, pause) rather than the
// edge answering empty-body.
func (a *Admin) withReason(fn func(ctx context.Context, tenantID, id string, actor dsr.Actor, reason string) (*privacy.Request, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b reasonBody
		if err := web.Decode(w, r, a.cfg.MaxBody, &b); err != nil && !web.IsEmptyBody(err) {
			web.Problem(w, r, err)
			return
		}
		req, err := fn(r.Context(), r.PathValue("tenant"), r.PathValue("id"), actor(r), b.Reason)
		a.reply(w, r, req, err)
	}
}

func (a *Admin) deny(w http.ResponseWriter, r *http.Request)   { a.withReason(a.svc.Deny)(w, r) }
func (a *Admin) extend(w http.ResponseWriter, r *http.Request) { a.withReason(a.svc.Extend)(w, r) }
func (a *Admin) cancel(w http.ResponseWriter, r *http.Request) { a.withReason(a.svc.Cancel)(w, r) }
func (a *Admin) pause(w http.ResponseWriter, r *http.Request)  { a.withReason(a.svc.Pause)(w, r) }

func (a *Admin) resume(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	req, err := a.svc.Resume(r.Context(), r.PathValue("tenant"), r.PathValue("id"), actor(r))
	a.reply(w, r, req, err)
}

func (a *Admin) reply(w http.ResponseWriter, r *http.Request, req *privacy.Request, err error) {
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	v := viewOf(req)
	v.Download = a.svc.PackageLinkOf(req)
	web.JSON(w, http.StatusOK, v)
}

func (a *Admin) audit(w http.ResponseWriter, r *http.Request) {
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
	page, err := a.svc.Audit(r.Context(), r.PathValue("tenant"), after, limit)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if page.Events == nil {
		page.Events = []privacy.AuditEvent{}
	}
	web.JSON(w, http.StatusOK, page)
}

func (a *Admin) verifyAudit(w http.ResponseWriter, r *http.Request) {
	rep, err := a.svc.VerifyAudit(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, rep)
}

func (a *Admin) settings(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(t.ETag))
	web.JSON(w, http.StatusOK, settingsView(t))
}

// configure replaces the settings (PUT): a field left out or null gets its
// default (see dsr.TenantSettings). If-Match is optional; a stale one is 412.
func (a *Admin) configure(w http.ResponseWriter, r *http.Request) {
	var in dsr.TenantSettings
	if err := web.Decode(w, r, a.cfg.MaxBody, &in); err != nil {
		web.Problem(w, r, err)
		return
	}
	a.saveSettings(w, r, web.IfMatch(r), in)
}

// patchSettings changes the named settings (PATCH, JSON Merge Patch, RFC
// 7396): a member set to null goes back to its default, as in a PUT. The
// patch applies to the version If-Match names (optional; stale is 412), else
// to the current one.
func (a *Admin) patchSettings(w http.ResponseWriter, r *http.Request) {
	patch, err := web.DecodeMergePatch(w, r, a.cfg.MaxBody)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	t, err := a.svc.ConfigureWith(r.Context(), r.PathValue("tenant"), web.IfMatch(r), web.Merged[dsr.TenantSettings](patch), actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(t.ETag))
	web.JSON(w, http.StatusOK, settingsView(t))
}

func (a *Admin) saveSettings(w http.ResponseWriter, r *http.Request, ifMatch string, in dsr.TenantSettings) {
	t, err := a.svc.Configure(r.Context(), r.PathValue("tenant"), ifMatch, in, actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	w.Header().Set("ETag", strconv.Quote(t.ETag))
	web.JSON(w, http.StatusOK, settingsView(t))
}

// settingsView is a tenant's settings as the API shows them: lists as [] when
// empty, never null, as the OpenAPI document says.
func settingsView(t *privacy.Tenant) dsr.TenantSettings {
	s := dsr.SettingsOf(t)
	for _, l := range []*[]string{&s.Regimes, &s.Establishment, &s.PortalOrigins} {
		if *l == nil {
			*l = []string{}
		}
	}
	return s
}

// RequestView is what an admin sees of a request: everything but the secrets
// (code hash, idempotency hashes) and the internal outbox.
type RequestView struct {
	ID                 string                `json:"id"`
	Type               privacy.RequestType   `json:"type"`
	Status             privacy.Status        `json:"status"`
	Channel            privacy.Channel       `json:"channel"`
	SubmittedBy        string                `json:"submittedBy,omitempty"`
	Subject            privacy.Subject       `json:"subject"`
	SubjectHash        string                `json:"subjectHash"`
	Categories         []privacy.Category    `json:"categories,omitempty"`
	Changes            []privacy.FieldChange `json:"changes,omitempty"`
	ReceivedAt         time.Time             `json:"receivedAt"`
	IdentityVerifiedAt time.Time             `json:"identityVerifiedAt,omitzero"`
	Due                privacy.Due           `json:"due"`
	Extension          *privacy.Extension    `json:"extension,omitempty"`
	Pauses             []privacy.Pause       `json:"pauses,omitempty"`
	Decision           *privacy.Decision     `json:"decision,omitempty"`
	Notices            []privacy.SentNotice  `json:"notices,omitempty"`
	Purposes           []string              `json:"purposes,omitempty"`
	Tasks              []privacy.Task        `json:"tasks,omitempty"`
	GraceUntil         time.Time             `json:"graceUntil,omitzero"`
	Package            *privacy.Package      `json:"package,omitempty"`
	Download           *dsr.PackageLink      `json:"download,omitempty"` // the package's current link (single-request answers)
	PendingEvents      int                   `json:"pendingEvents"`
	UpdatedAt          time.Time             `json:"updatedAt"`
}

func viewOf(r *privacy.Request) RequestView {
	return RequestView{ID: r.ID, Type: r.Type, Status: r.Status, Channel: r.Channel, SubmittedBy: r.SubmittedBy,
		Subject: r.Subject, SubjectHash: r.SubjectHash, Categories: r.Categories, Changes: r.Changes,
		ReceivedAt: r.ReceivedAt, IdentityVerifiedAt: r.IdentityVerifiedAt, Due: r.Due, Extension: r.Extension, Pauses: r.Pauses,
		Decision: r.Decision, Notices: r.Notices, PendingEvents: len(r.Outbox), UpdatedAt: r.UpdatedAt,
		Purposes: r.Purposes, Tasks: r.Tasks, GraceUntil: r.GraceUntil, Package: r.Package}
}
