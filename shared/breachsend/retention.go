package breachsend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// HasRecipients reports whether the campaign still holds a recipient list
// (and so, possibly, ledger rows): not yet purged at the end of its keep.
func (c *Campaign) HasRecipients() bool { return c.ListID != "" && c.PurgedAt.IsZero() }

// Recipients calls fn with the address of each recipient still on the
// tenant's campaign list for the incident, a thousand at a time; none when
// there is no campaign or its list is purged.
func Recipients(ctx context.Context, st Store, tenantID, incidentID string, fn func(email string) error) error {
	c, err := st.GetCampaign(ctx, tenantID, incidentID)
	if errors.Is(err, privacy.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read campaign: %w", err)
	}
	if !c.HasRecipients() {
		return nil
	}
	const chunk = 1000
	for from := int64(1); from <= c.Total; from += chunk {
		ds, err := st.Deliveries(ctx, tenantID, incidentID, c.ListID, ChannelEmail, c.NoticeVersion, from, from+chunk-1)
		if err != nil {
			return err
		}
		for _, d := range ds {
			if err := fn(d.Email); err != nil {
				return err
			}
		}
	}
	return nil
}

// StripForRetention deletes the campaign's recipient list and every ledger
// row of the incident, then strips the campaign (one ETag-guarded write,
// re-read on a conflict): PurgedAt (if its list was still there), StrippedAt
// and no StartedBy (an admin's identity); the counts, the notice text as
// sent and the public notice stay, the evidence of the communication (GDPR
// Art. 34). A campaign still sending is left alone (an error: the sweep does
// not call it for one). Idempotent; no campaign is done.
func StripForRetention(ctx context.Context, st Store, tenantID, incidentID string, at time.Time) error {
	at = at.UTC()
	for range 10 {
		c, err := st.GetCampaign(ctx, tenantID, incidentID)
		if errors.Is(err, privacy.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("strip campaign: %w", err)
		}
		if c.State == StateSending {
			return errors.New("strip campaign: the campaign is still sending")
		}
		if c.HasRecipients() {
			for {
				n, err := st.DeleteList(ctx, tenantID, incidentID, c.ListID, 5000)
				if err != nil {
					return fmt.Errorf("strip campaign: delete the list: %w", err)
				}
				if n == 0 {
					break
				}
			}
		}
		for {
			n, err := st.DeleteLedger(ctx, tenantID, incidentID, 5000)
			if err != nil {
				return fmt.Errorf("strip campaign: delete the ledger: %w", err)
			}
			if n == 0 {
				break
			}
		}
		if !c.StrippedAt.IsZero() {
			return nil
		}
		if c.HasRecipients() {
			c.PurgedAt = at
		}
		c.StartedBy, c.StrippedAt = "", at
		err = st.PutCampaign(ctx, c)
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("strip campaign: %w", err)
		}
		return nil
	}
	return fmt.Errorf("strip campaign: %w", privacy.ErrConflict)
}
