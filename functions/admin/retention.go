package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/web"
)

// Retention policies: PUT/GET/DELETE /api/admin/{tenant}/retention/policies/{policy},
// the list, and the legal floors that bind the tenant (read only: they are
// data, shared/retention/floors.json).

func (a *Admin) listRetentionPolicies(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	ps := t.RetentionPolicies
	if ps == nil {
		ps = []privacy.RetentionPolicy{}
	}
	web.JSON(w, http.StatusOK, struct {
		Policies []privacy.RetentionPolicy `json:"policies"`
	}{ps})
}

func (a *Admin) getRetentionPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := a.svc.RetentionPolicy(r.Context(), r.PathValue("tenant"), r.PathValue("policy"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, p)
}

func (a *Admin) putRetentionPolicy(w http.ResponseWriter, r *http.Request) {
	var in privacy.RetentionPolicy
	if err := web.Decode(w, r, a.cfg.MaxBody, &in); err != nil {
		web.Problem(w, r, err)
		return
	}
	if in.ID != "" && in.ID != r.PathValue("policy") {
		web.Problem(w, r, web.Invalid("id-mismatch", "the body's id differs from the route's"))
		return
	}
	if !in.CreatedAt.IsZero() || !in.UpdatedAt.IsZero() || in.LastPreview != nil || in.Approved != nil {
		web.Problem(w, r, web.Invalid("read-only-field", "createdAt, updatedAt, lastPreview and approved are set by privops"))
		return
	}
	in.ID = r.PathValue("policy")
	p, created, err := a.svc.PutRetentionPolicy(r.Context(), r.PathValue("tenant"), in, actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if created {
		web.Created(w, "/api/admin/"+r.PathValue("tenant")+"/retention/policies/"+p.ID, p)
		return
	}
	web.JSON(w, http.StatusOK, p)
}

func (a *Admin) deleteRetentionPolicy(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteRetentionPolicy(r.Context(), r.PathValue("tenant"), r.PathValue("policy"), actor(r)); err != nil {
		web.Problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// approveRetentionPolicy approves the latest preview of a policy that needs
// sign-off (POST …/retention/policies/{policy}/approve, no body).
func (a *Admin) approveRetentionPolicy(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	p, err := a.svc.ApproveRetentionPolicy(r.Context(), r.PathValue("tenant"), r.PathValue("policy"), actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, p)
}

func (a *Admin) retentionFloors(w http.ResponseWriter, r *http.Request) {
	fs, err := a.svc.RetentionFloors(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, struct {
		Floors []retention.Floor `json:"floors"`
	}{fs})
}

// Retention is what the admin API needs of the retention sweep.
type Retention interface {
	// Preview is a dry run: counts per policy, touching nothing.
	Preview(ctx context.Context, tenantID, policyID string, budget time.Duration) (*retention.Preview, error)
}

// previewBudget bounds a preview answered over HTTP.
const previewBudget = 20 * time.Second

func (a *Admin) previewRetention(w http.ResponseWriter, r *http.Request) {
	if _, err := a.svc.Tenant(r.Context(), r.PathValue("tenant")); err != nil {
		web.Problem(w, r, err)
		return
	}
	if a.ret == nil {
		web.Problem(w, r, privacy.Errorf(privacy.KindNotImplemented, "retention-not-available", "retention is not configured"))
		return
	}
	p, err := a.ret.Preview(r.Context(), r.PathValue("tenant"), r.URL.Query().Get("policy"), previewBudget)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, p)
}

func (a *Admin) listRetentionRuns(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	runs, err := retention.Runs(t)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, struct {
		Runs []retention.Run `json:"runs"`
	}{runs})
}

func (a *Admin) getRetentionRun(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	runs, err := retention.Runs(t)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	for _, run := range runs {
		if run.ID == r.PathValue("run") {
			web.JSON(w, http.StatusOK, run)
			return
		}
	}
	web.Problem(w, r, privacy.Errorf(privacy.KindNotFound, "unknown-retention-run", "no such retention run (the last 10 are kept)"))
}
