// Package breachrecords adapts the breach stores (the notices and incidents
// of shared/breach, the subject notification of shared/breachsend) to what a
// retention sweep needs of a tenant's breach records
// (retention.BreachRecords). It reads the tenant's notices in its own
// partition, each notice's incident with one point read in the operator's
// partition (to know it is closed), and the tenant's campaign; it writes only
// the tenant's campaign, list, ledger and notice, never the operator's
// incident nor another tenant's notice.
package breachrecords

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
)

// Records is the adapter.
type Records struct {
	Notices   breach.Store
	Campaigns breachsend.Store
}

var _ retention.BreachRecords = (*Records)(nil)

// ListBreachRecords pages through the tenant's notices, newest first.
func (r *Records) ListBreachRecords(ctx context.Context, tenantID, cursor string, limit int) ([]retention.BreachRecord, string, error) {
	page, err := r.Notices.ListNotices(ctx, tenantID, cursor, limit)
	if err != nil {
		return nil, "", fmt.Errorf("list notices: %w", err)
	}
	out := make([]retention.BreachRecord, 0, len(page.Notices))
	for _, n := range page.Notices {
		rec := retention.BreachRecord{IncidentID: n.ID, Stripped: !n.StrippedAt.IsZero(), ClosedAt: n.UpdatedAt.UTC()}
		in, err := r.Notices.GetIncident(ctx, n.IncidentID)
		switch {
		case errors.Is(err, privacy.ErrNotFound):
			// The operator's record is gone: the tenant's copy says.
			rec.Closed = n.Status == breach.StatusClosed
		case err != nil:
			return nil, "", fmt.Errorf("read incident: %w", err)
		default:
			rec.Closed = n.Status == breach.StatusClosed && in.Status == breach.StatusClosed
			if in.UpdatedAt.After(rec.ClosedAt) {
				rec.ClosedAt = in.UpdatedAt.UTC()
			}
		}
		c, err := r.Campaigns.GetCampaign(ctx, tenantID, n.ID)
		switch {
		case errors.Is(err, privacy.ErrNotFound):
		case err != nil:
			return nil, "", fmt.Errorf("read campaign: %w", err)
		default:
			rec.Recipients = c.HasRecipients()
			rec.Sending = c.State == breachsend.StateSending
		}
		out = append(out, rec)
	}
	return out, page.Next, nil
}

// BreachRecipients calls fn with each address still on the campaign's list.
func (r *Records) BreachRecipients(ctx context.Context, tenantID, incidentID string, fn func(email string) error) error {
	return breachsend.Recipients(ctx, r.Campaigns, tenantID, incidentID, fn)
}

// PurgeBreachRecord deletes the campaign's recipients and strips the
// campaign, then the notice (last: a stripped notice is a finished record).
func (r *Records) PurgeBreachRecord(ctx context.Context, tenantID, incidentID string, at time.Time) error {
	if err := breachsend.StripForRetention(ctx, r.Campaigns, tenantID, incidentID, at); err != nil {
		return err
	}
	return breach.StripNotice(ctx, r.Notices, tenantID, incidentID, at)
}
