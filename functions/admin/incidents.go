package admin

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/web"
)

// Incidents is what the admin API needs of the breach flow: a tenant's own
// notices of incidents (never another tenant's, never the list of tenants
// affected), their clocks, acknowledgement, the authority report and the
// approval of data-subject notification.
type Incidents interface {
	Notices(ctx context.Context, tenantID, cursor string, limit int) (breach.NoticePage, error)
	Notice(ctx context.Context, tenantID, id string) (*breach.Notice, error)
	Clocks(ctx context.Context, n *breach.Notice) ([]breach.Clock, error)
	Acknowledge(ctx context.Context, tenantID, id string, version int, by string) (*breach.Notice, error)
	ApproveSubjectNotice(ctx context.Context, tenantID, id, by string) (*breach.Notice, error)
	MarkMetByTenant(ctx context.Context, tenantID, id, clock string, at time.Time, by string) (*breach.Notice, error)
	Report(ctx context.Context, tenantID, id string) (breach.AuthorityReport, error)
}

// incidentRoutes are the tenant's breach routes.
func (a *Admin) incidentRoutes() []web.Route {
	if a.inc == nil {
		return nil
	}
	return []web.Route{
		{Method: "GET", Pattern: "/api/admin/{tenant}/incidents", Handler: a.with(auth.ActionRead, a.listNotices)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/incidents/{incident}", Handler: a.with(auth.ActionRead, a.getNotice)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/incidents/{incident}/acknowledge", Handler: a.with(auth.ActionDecide, a.acknowledge)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/incidents/{incident}/approve-subject-notice", Handler: a.with(auth.ActionDecide, a.approveSubjectNotice)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/incidents/{incident}/clocks/{clock}/met", Handler: a.with(auth.ActionDecide, a.clockMet)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/incidents/{incident}/report", Handler: a.with(auth.ActionRead, a.incidentReport)},
	}
}

func (a *Admin) noticeView(w http.ResponseWriter, r *http.Request, n *breach.Notice, status int) {
	clocks, err := a.inc.Clocks(r.Context(), n)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, status, breach.NoticeViewOf(n, clocks))
}

func (a *Admin) listNotices(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			web.Problem(w, r, web.Invalid("invalid-limit", "limit must be between 1 and 200"))
			return
		}
		limit = n
	}
	page, err := a.inc.Notices(r.Context(), r.PathValue("tenant"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Incidents []breach.NoticeView `json:"incidents"`
		Next      string              `json:"next,omitempty"`
	}{Incidents: []breach.NoticeView{}, Next: page.Next}
	for _, n := range page.Notices {
		clocks, err := a.inc.Clocks(r.Context(), n)
		if err != nil {
			web.Problem(w, r, err)
			return
		}
		out.Incidents = append(out.Incidents, breach.NoticeViewOf(n, clocks))
	}
	web.JSON(w, http.StatusOK, out)
}

func (a *Admin) getNotice(w http.ResponseWriter, r *http.Request) {
	n, err := a.inc.Notice(r.Context(), r.PathValue("tenant"), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	a.noticeView(w, r, n, http.StatusOK)
}

func (a *Admin) acknowledge(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version int `json:"version"`
	}
	if err := web.Decode(w, r, a.cfg.MaxBody, &in); err != nil && !web.IsEmptyBody(err) {
		web.Problem(w, r, err)
		return
	}
	if in.Version < 0 {
		web.Problem(w, r, web.Invalid("invalid-version", "version must be a positive report version"))
		return
	}
	n, err := a.inc.Acknowledge(r.Context(), r.PathValue("tenant"), r.PathValue("incident"), in.Version, actor(r).String())
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	a.noticeView(w, r, n, http.StatusOK)
}

func (a *Admin) approveSubjectNotice(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	n, err := a.inc.ApproveSubjectNotice(r.Context(), r.PathValue("tenant"), r.PathValue("incident"), actor(r).String())
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	a.noticeView(w, r, n, http.StatusOK)
}

func (a *Admin) clockMet(w http.ResponseWriter, r *http.Request) {
	var in struct {
		At time.Time `json:"at"`
	}
	if err := web.Decode(w, r, a.cfg.MaxBody, &in); err != nil && !web.IsEmptyBody(err) {
		web.Problem(w, r, err)
		return
	}
	n, err := a.inc.MarkMetByTenant(r.Context(), r.PathValue("tenant"), r.PathValue("incident"), r.PathValue("clock"), in.At, actor(r).String())
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	a.noticeView(w, r, n, http.StatusOK)
}

// incidentReport answers the authority report as JSON, or as text with
// ?format=text.
func (a *Admin) incidentReport(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "text" {
		web.Problem(w, r, web.Invalid("invalid-format", "format must be json or text"))
		return
	}
	rep, err := a.inc.Report(r.Context(), r.PathValue("tenant"), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if format == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(rep.Text()))
		return
	}
	web.JSON(w, http.StatusOK, rep)
}
