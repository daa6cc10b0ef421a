package admin

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/web"
)

// Breach notification of data subjects (issue 13, items 6-7): upload an
// incident's recipients, start the campaign, read its progress, publish the
// public notice. Only privacy-admin may change; every role may read.

// Campaigns is what the admin API needs of the subject fan-out.
type Campaigns interface {
	Upload(ctx context.Context, tenantID, incidentID, contentType string, body io.Reader, actor string) (*breachsend.Campaign, error)
	Start(ctx context.Context, tenantID, incidentID, actor string) (*breachsend.Campaign, bool, error)
	Campaign(ctx context.Context, tenantID, incidentID string) (*breachsend.Campaign, error)
	Publish(ctx context.Context, tenantID, incidentID, actor string) (*breachsend.Campaign, error)
	PublicNotice(ctx context.Context, tenantID, incidentID string) (*breachsend.Campaign, error)
}

// breachSendRoutes are the subject fan-out's admin routes.
func (a *Admin) breachSendRoutes() []web.Route {
	return []web.Route{
		{Method: "POST", Pattern: "/api/admin/{tenant}/incidents/{incident}/recipients", Handler: a.with(auth.ActionConfigure, a.uploadRecipients)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/incidents/{incident}/notify-subjects", Handler: a.with(auth.ActionConfigure, a.notifySubjects)},
		{Method: "GET", Pattern: "/api/admin/{tenant}/incidents/{incident}/campaign", Handler: a.with(auth.ActionRead, a.campaign)},
		{Method: "POST", Pattern: "/api/admin/{tenant}/incidents/{incident}/public-notice", Handler: a.with(auth.ActionConfigure, a.publishNotice)},
	}
}

// CampaignView is a campaign as the admin API shows it: counts and times,
// never a recipient.
type CampaignView struct {
	IncidentID    string              `json:"incidentId"`
	State         string              `json:"state"`
	Progress      breachsend.Progress `json:"progress"`
	Duplicates    int64               `json:"duplicates"`
	UploadedAt    time.Time           `json:"uploadedAt,omitzero"`
	NoticeVersion int                 `json:"noticeVersion,omitempty"`
	StartedAt     time.Time           `json:"startedAt,omitzero"`
	Batches       int64               `json:"batches,omitempty"`
	Enqueued      int64               `json:"enqueued,omitempty"`
	EndedAt       time.Time           `json:"endedAt,omitzero"`
	ExpiresAt     time.Time           `json:"expiresAt,omitzero"`
	PurgedAt      time.Time           `json:"purgedAt,omitzero"`
	Public        bool                `json:"public"`
	PublicReason  string              `json:"publicReason,omitempty"`
	PublishedAt   time.Time           `json:"publishedAt,omitzero"`
	// StrippedAt: a breach-records retention policy deleted the recipients
	// and who started it; the counts stay.
	StrippedAt time.Time `json:"strippedAt,omitzero"`
}

// CampaignViewOf renders c.
func CampaignViewOf(c *breachsend.Campaign) CampaignView {
	state := c.State
	if state == "" {
		state = "none" // a public notice without a list
	}
	return CampaignView{IncidentID: c.IncidentID, State: state, Progress: c.Progress(), Duplicates: c.Duplicates,
		UploadedAt: c.UploadedAt, NoticeVersion: c.NoticeVersion, StartedAt: c.StartedAt, Batches: c.Batches, Enqueued: c.Enqueued,
		EndedAt: c.EndedAt, ExpiresAt: c.ExpiresAt, PurgedAt: c.PurgedAt, Public: c.Public, PublicReason: c.PublicReason, PublishedAt: c.PublishedAt,
		StrippedAt: c.StrippedAt}
}

// campaigns returns the fan-out, or answers 501 when this deployment has none.
func (a *Admin) campaigns(w http.ResponseWriter, r *http.Request) (Campaigns, bool) {
	if a.bs == nil {
		web.Problem(w, r, privacy.Errorf(privacy.KindNotImplemented, "breach-notification-not-available",
			"notifying data subjects is not available: this deployment has no breach fan-out store"))
		return nil, false
	}
	return a.bs, true
}

// purgeStarted answers 409 offboarding-purge-started when the tenant's
// offboarding purge has started: a list uploaded or a campaign started then
// would be written behind the purge (which stopped the tenant's campaigns
// and deletes their lists) and outlive it.
func (a *Admin) purgeStarted(w http.ResponseWriter, r *http.Request) bool {
	t, err := a.svc.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		web.Problem(w, r, err)
		return true
	}
	if t.Offboarding != nil && t.Offboarding.Purge != nil {
		web.Problem(w, r, privacy.Errorf(privacy.KindConflict, "offboarding-purge-started",
			"the offboarding purge of this tenant has started: no new breach campaign"))
		return true
	}
	return false
}

// uploadRecipients streams the body (text/csv or application/x-ndjson) into
// the incident's recipient list; the list replaces any earlier one until the
// campaign starts.
func (a *Admin) uploadRecipients(w http.ResponseWriter, r *http.Request) {
	bs, ok := a.campaigns(w, r)
	if !ok {
		return
	}
	if a.purgeStarted(w, r) {
		return
	}
	c, err := bs.Upload(r.Context(), r.PathValue("tenant"), r.PathValue("incident"), r.Header.Get("Content-Type"), r.Body, actor(r).String())
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, CampaignViewOf(c))
}

// notifySubjects starts the campaign: 202 the first time, 200 with the same
// campaign after.
func (a *Admin) notifySubjects(w http.ResponseWriter, r *http.Request) {
	bs, ok := a.campaigns(w, r)
	if !ok {
		return
	}
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	if len(r.Header.Get("Idempotency-Key")) > 200 {
		web.Problem(w, r, privacy.Errorf(privacy.KindInvalid, "invalid-idempotency-key", "Idempotency-Key must be at most 200 characters"))
		return
	}
	if a.purgeStarted(w, r) {
		return
	}
	c, started, err := bs.Start(r.Context(), r.PathValue("tenant"), r.PathValue("incident"), actor(r).String())
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	status := http.StatusOK
	if started {
		status = http.StatusAccepted
	}
	web.JSON(w, status, CampaignViewOf(c))
}

func (a *Admin) campaign(w http.ResponseWriter, r *http.Request) {
	bs, ok := a.campaigns(w, r)
	if !ok {
		return
	}
	c, err := bs.Campaign(r.Context(), r.PathValue("tenant"), r.PathValue("incident"))
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, CampaignViewOf(c))
}

// publishNotice publishes the public notice (GDPR Art. 34(3)(c)).
func (a *Admin) publishNotice(w http.ResponseWriter, r *http.Request) {
	bs, ok := a.campaigns(w, r)
	if !ok {
		return
	}
	if err := web.NoBody(w, r); err != nil {
		web.Problem(w, r, err)
		return
	}
	c, err := bs.Publish(r.Context(), r.PathValue("tenant"), r.PathValue("incident"), actor(r).String())
	if err != nil {
		web.Problem(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, CampaignViewOf(c))
}
