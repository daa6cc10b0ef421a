package operator

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/web"
)

// Incidents is what the operator API needs of the breach flow (shared/breach).
type Incidents interface {
	Declare(ctx context.Context, d breach.Declaration, o breach.Origin) (*breach.Incident, bool, error)
	Incidents(ctx context.Context, cursor string, limit int) (breach.IncidentPage, error)
	Incident(ctx context.Context, id string) (*breach.Incident, error)
	AddReport(ctx context.Context, id string, in breach.ReportInput, actor string) (*breach.Incident, error)
	Resolve(ctx context.Context, sc breach.Scope) ([]string, error)
	MarkMet(ctx context.Context, id, clock string, at time.Time, actor string) (*breach.Incident, error)
	ViewOf(in *breach.Incident) breach.IncidentView
	Notice(ctx context.Context, tenantID, id string) (*breach.Notice, error)
	Clocks(ctx context.Context, n *breach.Notice) ([]breach.Clock, error)
}

// incidentRoutes are the security officer's breach routes: declare, list,
// read, add a phased report, resolve a scope to tenants, read the clocks of
// the incident and of each tenant, record an operator clock met.
func (o *Operator) incidentRoutes() []web.Route {
	if o.inc == nil {
		return nil
	}
	return []web.Route{
		{Method: "POST", Pattern: "/api/operator/incidents", Handler: o.with(auth.ActionManageIncidents, o.declare)},
		{Method: "GET", Pattern: "/api/operator/incidents", Handler: o.with(auth.ActionOperatorRead, o.listIncidents)},
		{Method: "POST", Pattern: "/api/operator/incidents/resolve", Handler: o.with(auth.ActionManageIncidents, o.resolveScope)},
		{Method: "GET", Pattern: "/api/operator/incidents/{incident}", Handler: o.with(auth.ActionOperatorRead, o.getIncident)},
		{Method: "POST", Pattern: "/api/operator/incidents/{incident}/reports", Handler: o.with(auth.ActionManageIncidents, o.addReport)},
		{Method: "GET", Pattern: "/api/operator/incidents/{incident}/clocks", Handler: o.with(auth.ActionOperatorRead, o.incidentClocks)},
		{Method: "POST", Pattern: "/api/operator/incidents/{incident}/clocks/{clock}/met", Handler: o.with(auth.ActionManageIncidents, o.markMet)},
		{Method: "GET", Pattern: "/api/operator/incidents/{incident}/tenants/{tenant}", Handler: o.with(auth.ActionOperatorRead, o.tenantNotice)},
	}
}

func opActor(r *http.Request) string { return actor(r).String() }

func (o *Operator) declare(w http.ResponseWriter, r *http.Request) {
	var d breach.Declaration
	if err := web.Decode(w, r, o.cfg.MaxBody, &d); err != nil {
		web.Problem(w, r, err)
		return
	}
	// With an Idempotency-Key, a declaration sent again (its answer lost)
	// gets the first incident and notifies nobody twice.
	in, _, err := o.inc.Declare(r.Context(), d, breach.Origin{Actor: opActor(r), IdempotencyKey: r.Header.Get("Idempotency-Key")})
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.Created(w, "/api/operator/incidents/"+in.ID, o.inc.ViewOf(in))
}

func (o *Operator) listIncidents(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			web.Problem(w, r, web.Invalid("invalid-limit", "limit must be between 1 and 200"))
			return
		}
		limit = n
	}
	page, err := o.inc.Incidents(r.Context(), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Incidents []breach.IncidentView `json:"incidents"`
		Next      string                `json:"next,omitempty"`
	}{Incidents: []breach.IncidentView{}, Next: page.Next}
	for _, in := range page.Incidents {
		out.Incidents = append(out.Incidents, o.inc.ViewOf(in))
	}
	web.JSON(w, http.StatusOK, out)
}

func (o *Operator) getIncident(w http.ResponseWriter, r *http.Request) {
	in, err := o.inc.Incident(r.Context(), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, o.inc.ViewOf(in))
}

func (o *Operator) addReport(w http.ResponseWriter, r *http.Request) {
	var in breach.ReportInput
	if err := web.Decode(w, r, o.cfg.MaxBody, &in); err != nil {
		web.Problem(w, r, err)
		return
	}
	inc, err := o.inc.AddReport(r.Context(), r.PathValue("incident"), in, opActor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, o.inc.ViewOf(inc))
}

func (o *Operator) resolveScope(w http.ResponseWriter, r *http.Request) {
	var sc breach.Scope
	if err := web.Decode(w, r, o.cfg.MaxBody, &sc); err != nil {
		web.Problem(w, r, err)
		return
	}
	ts, err := o.inc.Resolve(r.Context(), sc)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, struct {
		Tenants []string `json:"tenants"`
	}{ts})
}

// incidentClocks answers the operator's own clocks and, per affected
// tenant, the processor's and the tenant's clocks.
func (o *Operator) incidentClocks(w http.ResponseWriter, r *http.Request) {
	in, err := o.inc.Incident(r.Context(), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	type tenantClocks struct {
		TenantID string         `json:"tenantId"`
		Notified bool           `json:"notified"`
		Clocks   []breach.Clock `json:"clocks"`
	}
	out := struct {
		Operator []breach.Clock `json:"operator"`
		Tenants  []tenantClocks `json:"tenants"`
	}{Operator: o.inc.ViewOf(in).Clocks, Tenants: []tenantClocks{}}
	for _, t := range in.Tenants {
		tc := tenantClocks{TenantID: t, Clocks: []breach.Clock{}}
		if n, err := o.inc.Notice(r.Context(), t, in.ID); err == nil {
			tc.Notified = !n.NotifiedAt.IsZero()
			if tc.Clocks, err = o.inc.Clocks(r.Context(), n); err != nil {
				web.Problem(w, r, err)
				return
			}
		}
		out.Tenants = append(out.Tenants, tc)
	}
	web.JSON(w, http.StatusOK, out)
}

func (o *Operator) markMet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		At time.Time `json:"at"`
	}
	if err := web.Decode(w, r, o.cfg.MaxBody, &in); err != nil && !web.IsEmptyBody(err) {
		web.Problem(w, r, err)
		return
	}
	inc, err := o.inc.MarkMet(r.Context(), r.PathValue("incident"), r.PathValue("clock"), in.At, opActor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, o.inc.ViewOf(inc))
}

// tenantNotice answers one affected tenant's notice as the operator sees
// it: deliveries, acknowledgement, escalations and clocks.
func (o *Operator) tenantNotice(w http.ResponseWriter, r *http.Request) {
	in, err := o.inc.Incident(r.Context(), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	n, err := o.inc.Notice(r.Context(), r.PathValue("tenant"), in.ID)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	clocks, err := o.inc.Clocks(r.Context(), n)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, breach.NoticeViewOf(n, clocks))
}
