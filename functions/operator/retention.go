package operator

import (
	"net/http"

	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/web"
)

// retentionRuns lists a tenant's retention runs as counts only (GDPR Art.
// 28: the processor reports what it did, not the data it did it to).
func (o *Operator) retentionRuns(w http.ResponseWriter, r *http.Request) {
	t, err := o.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	runs, err := retention.Runs(t)
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	out := struct {
		Runs []retention.Summary `json:"runs"`
	}{Runs: []retention.Summary{}}
	for i := range runs {
		out.Runs = append(out.Runs, runs[i].Summarize())
	}
	web.JSON(w, http.StatusOK, out)
}
