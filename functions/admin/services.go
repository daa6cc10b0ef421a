package admin

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/privops/privops/shared/dsr"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// ServiceView is a service as the API shows it: secrets by id and age only.
type ServiceView struct {
	privacy.Service
	Secrets []SecretView `json:"secrets,omitempty"`
	// NewSecret is the signing secret just created (base64), shown once.
	NewSecret string `json:"newSecret,omitempty"`
}

// SecretView names a secret without its value.
type SecretView struct {
	ID        string `json:"id"`
	CreatedAt string `json:"createdAt"`
}

func serviceView(s *privacy.Service, showNewest bool) ServiceView {
	v := ServiceView{Service: *s}
	v.Service.Secrets = nil
	for _, k := range s.Secrets {
		v.Secrets = append(v.Secrets, SecretView{ID: k.ID, CreatedAt: k.CreatedAt.Format("2006-01-02T15:04:05Z07:00")})
	}
	if showNewest && len(s.Secrets) > 0 {
		v.NewSecret = s.Secrets[len(s.Secrets)-1].Value
	}
	return v
}

func (a *Admin) listServices(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Services []ServiceView `json:"services"`
	}{Services: []ServiceView{}}
	for i := range t.Services {
		out.Services = append(out.Services, serviceView(&t.Services[i], false))
	}
	web.JSON(w, http.StatusOK, out)
}

func (a *Admin) getService(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	s := t.Service(r.PathValue("service"))
	if s == nil {
		web.Problem(w, r, privacy.Errorf(privacy.KindNotFound, "unknown-service", "no such service"))
		return
	}
	web.JSON(w, http.StatusOK, serviceView(s, false))
}

func (a *Admin) putService(w http.ResponseWriter, r *http.Request) {
	var in privacy.Service
	if err := web.Decode(w, r, a.cfg.MaxBody, &in); err != nil {
		web.Problem(w, r, err)
		return
	}
	if in.ID != "" && in.ID != r.PathValue("service") {
		web.Problem(w, r, web.Invalid("id-mismatch", "the body's id differs from the route's"))
		return
	}
	in.ID = r.PathValue("service")
	if len(in.Secrets) > 0 {
		web.Problem(w, r, web.Invalid("secrets-read-only", "secrets are generated; use rotate-secret"))
		return
	}
	s, created, err := a.svc.PutService(r.Context(), r.PathValue("tenant"), in, actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if created {
		web.Created(w, "/api/admin/"+r.PathValue("tenant")+"/services/"+s.ID, serviceView(s, true))
		return
	}
	web.JSON(w, http.StatusOK, serviceView(s, false))
}

func (a *Admin) deleteService(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteService(r.Context(), r.PathValue("tenant"), r.PathValue("service"), actor(r)); err != nil {
		web.Problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Admin) rotateSecret(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	s, err := a.svc.RotateSecret(r.Context(), r.PathValue("tenant"), r.PathValue("service"), actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, serviceView(s, true))
}

func (a *Admin) listHolds(w http.ResponseWriter, r *http.Request) {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	holds := privacy.PublicHolds(t.Holds) // without their sealed emails
	web.JSON(w, http.StatusOK, struct {
		Holds []privacy.Hold `json:"holds"`
	}{holds})
}

func (a *Admin) placeHold(w http.ResponseWriter, r *http.Request) {
	var in dsr.HoldInput
	if err := web.Decode(w, r, a.cfg.MaxBody, &in); err != nil {
		web.Problem(w, r, err)
		return
	}
	h, err := a.svc.PlaceHold(r.Context(), r.PathValue("tenant"), in, actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.Created(w, "/api/admin/"+r.PathValue("tenant")+"/holds/"+h.ID, h)
}

func (a *Admin) releaseHold(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	h, err := a.svc.ReleaseHold(r.Context(), r.PathValue("tenant"), r.PathValue("hold"), actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, h)
}

func (a *Admin) retryTask(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	req, err := a.svc.RetryTasks(r.Context(), r.PathValue("tenant"), r.PathValue("id"), r.PathValue("task"), actor(r))
	a.reply(w, r, req, err)
}

func (a *Admin) retryFailed(w http.ResponseWriter, r *http.Request) {
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	req, err := a.svc.RetryTasks(r.Context(), r.PathValue("tenant"), r.PathValue("id"), "", actor(r))
	a.reply(w, r, req, err)
}

// completeBody completes a manual task.
type completeBody struct {
	Outcome  privacy.Outcome `json:"outcome"`
	Items    int             `json:"items"`
	Reason   string          `json:"reason"`
	Note     string          `json:"note"`
	Evidence string          `json:"evidence"` // base64, optional
}

func (a *Admin) completeTask(w http.ResponseWriter, r *http.Request) {
	var b completeBody
	if err := web.Decode(w, r, a.cfg.MaxEvidence*4/3+4096, &b); err != nil {
		web.Problem(w, r, err)
		return
	}
	ev, err := base64.StdEncoding.DecodeString(b.Evidence)
	if err != nil {
		web.Problem(w, r, web.Invalid("invalid-evidence", "evidence must be base64"))
		return
	}
	if int64(len(ev)) > a.cfg.MaxEvidence {
		web.Problem(w, r, privacy.Errorf(privacy.KindTooLarge, "evidence-too-large", "evidence is at most %d bytes", a.cfg.MaxEvidence))
		return
	}
	task, err := a.svc.CompleteManual(r.Context(), r.PathValue("tenant"), r.PathValue("id"), r.PathValue("task"),
		dsr.Result{Outcome: b.Outcome, Items: b.Items, Reason: b.Reason, Note: b.Note}, ev, actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, task)
}

// certificate serves the request's sealed certificate exactly as it was
// stored when the request completed (a JWS signed with the key published at
// GET /api/certificates/key), or, with ?format=text, its content for people.
func (a *Admin) certificate(w http.ResponseWriter, r *http.Request) {
	doc, c, err := a.svc.Certificate(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(c.Text()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	_, _ = w.Write(doc)
}

func (a *Admin) tombstones(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			web.Problem(w, r, web.Invalid("invalid-cursor", "after must be a non-negative sequence number"))
			return
		}
		after = n
	}
	ts, next, err := a.svc.Tombstones(r.Context(), r.PathValue("tenant"), q.Get("service"), after, 500)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Tombstones []dsr.Tombstone `json:"tombstones"`
		Next       int64           `json:"next,omitempty"`
	}{ts, next}
	web.JSON(w, http.StatusOK, out)
}
