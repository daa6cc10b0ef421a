package breachsend

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/privops/privops/shared/privacy"
)

// StoppedByOffboarding is a campaign's StoppedBy when the tenant's
// offboarding purge stopped it.
const StoppedByOffboarding = "tenant-offboarding"

// StopTenant stops every campaign of the tenant that is ready or sending,
// before the tenant's offboarding purge deletes its lists, ledger and
// campaigns (shared/offboard): each is written in state stopped (one
// ETag-guarded write; the audit records breach.subjects.stopped with the
// counts so far), so no plan or batch message sends anything more and the
// campaign cannot be started again. It returns how many deliveries are still
// in flight (batch claims running past now): the purge waits until none is,
// since a delivery that read its batch before the stop may still record
// ledger rows and enqueue a retry. A delivery that claims its batch after the
// stop reads the campaign again and sends nothing. Idempotent.
//
// The controller decided the end of the contract (GDPR Art. 28(3)(g)); what
// its data subjects still had to be told is its own duty (Art. 34), which
// it keeps with the return package and its own systems.
func (s *Service) StopTenant(ctx context.Context, tenantID string) (int, error) {
	for _, state := range []string{StateReady, StateSending} {
		ids, err := s.d.Store.TenantCampaigns(ctx, tenantID, state)
		if err != nil {
			return 0, err
		}
		for _, id := range ids {
			if err := s.stop(ctx, tenantID, id); err != nil {
				return 0, err
			}
		}
	}
	n, err := s.d.Store.LiveClaims(ctx, tenantID, s.d.Now())
	if err != nil {
		return 0, err
	}
	return n, nil
}

// stop writes one campaign in state stopped, unless it ended meanwhile.
func (s *Service) stop(ctx context.Context, tenantID, incidentID string) error {
	for range 5 {
		c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
		if errors.Is(err, privacy.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if c.State != StateReady && c.State != StateSending {
			return nil
		}
		now := s.d.Now().UTC()
		c.State, c.StoppedBy, c.EndedAt = StateStopped, StoppedByOffboarding, now
		if c.ExpiresAt.IsZero() {
			// The list's keep runs from the stop, as from a campaign's end.
			c.ExpiresAt = now.Add(s.cfg.Keep)
		}
		err = s.d.Store.PutCampaign(ctx, c)
		if errors.Is(err, privacy.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.d.Step("breachsend.stopped")
		p := c.Progress()
		if err := s.audit(ctx, tenantID, "breachsend-stop-"+c.ListID+"-"+incidentID, "system:offboard", "breach.subjects.stopped", incidentID,
			map[string]string{"reason": StoppedByOffboarding, "total": strconv.FormatInt(p.Total, 10), "sent": strconv.FormatInt(p.Sent, 10),
				"pending": strconv.FormatInt(p.Pending, 10)}); err != nil {
			return fmt.Errorf("audit the stop: %w", err)
		}
		s.d.Logger.InfoContext(ctx, "breach campaign stopped for the tenant's offboarding", "tenant_id", tenantID, "pending", p.Pending)
		return nil
	}
	return fmt.Errorf("stop campaign: %w", privacy.ErrConflict)
}
