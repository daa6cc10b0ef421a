package admin

import (
	"net/http"

	"github.com/privops/privops/shared/web"
)

// reissueLink gives the request's export package a fresh download link
// (POST …/requests/{id}/package/link), revoking earlier ones, and answers it.
func (a *Admin) reissueLink(w http.ResponseWriter, r *http.Request) {
	l, err := a.svc.ReissueLink(r.Context(), r.PathValue("tenant"), r.PathValue("id"), actor(r))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, l)
}
