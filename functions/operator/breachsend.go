package operator

import (
	"context"
	"net/http"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// Campaigns reads a tenant's breach subject campaign.
type Campaigns interface {
	Campaign(ctx context.Context, tenantID, incidentID string) (*breachsend.Campaign, error)
}

// CampaignCounts is what the operator sees of a tenant's campaign: its state
// and counts (GDPR Art. 28: the processor reports what it did, never to whom).
type CampaignCounts struct {
	IncidentID string              `json:"incidentId"`
	State      string              `json:"state"`
	Progress   breachsend.Progress `json:"progress"`
	Public     bool                `json:"public"`
}

// campaign answers a tenant's campaign of an incident as counts only.
func (o *Operator) campaign(w http.ResponseWriter, r *http.Request) {
	if o.bs == nil {
		web.Problem(w, r, privacy.Errorf(privacy.KindNotImplemented, "breach-notification-not-available",
			"notifying data subjects is not available: this deployment has no breach fan-out store"))
		return
	}
	if _, err := o.svc.Tenant(r.Context(), r.PathValue("tenant")); err != nil {
		web.Problem(w, r, err)
		return
	}
	c, err := o.bs.Campaign(r.Context(), r.PathValue("tenant"), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	state := c.State
	if state == "" {
		state = "none"
	}
	web.JSON(w, http.StatusOK, CampaignCounts{IncidentID: c.IncidentID, State: state, Progress: c.Progress(), Public: c.Public})
}
