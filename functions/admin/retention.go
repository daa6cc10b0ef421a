package admin

import (
	"net/http"

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
	if !in.CreatedAt.IsZero() || !in.UpdatedAt.IsZero() {
		web.Problem(w, r, web.Invalid("read-only-field", "createdAt and updatedAt are set by privops"))
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
