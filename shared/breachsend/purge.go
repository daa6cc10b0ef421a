package breachsend

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/privops/privops/shared/privacy"
)

// Purge deletes a campaign's list and ledger once its keep ran out (GDPR
// Art. 5(1)(e): recipient lists are kept for the campaign plus
// BREACH_RECIPIENTS_KEEP, no longer). The counts and the public notice stay; the audit records the
// purge. It returns how many lists it purged. Idempotent.
func (s *Service) Purge(ctx context.Context, tenantID, incidentID string) (int, error) {
	now := s.d.Now().UTC()
	c, err := s.d.Store.GetCampaign(ctx, tenantID, incidentID)
	if errors.Is(err, privacy.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	if c.ListID == "" || !c.PurgedAt.IsZero() || c.ExpiresAt.IsZero() || c.ExpiresAt.After(now) || c.State == StateSending {
		return n, nil
	}
	if err := s.deleteList(ctx, tenantID, incidentID, c.ListID); err != nil {
		return n, fmt.Errorf("purge the recipient list: %w", err)
	}
	for {
		k, err := s.d.Store.DeleteLedger(ctx, tenantID, incidentID, 5000)
		if err != nil {
			return n, fmt.Errorf("purge the ledger: %w", err)
		}
		if k == 0 {
			break
		}
	}
	for range 5 {
		c, err = s.d.Store.GetCampaign(ctx, tenantID, incidentID)
		if err != nil {
			return n, err
		}
		c.PurgedAt = now
		if err = s.d.Store.PutCampaign(ctx, c); !errors.Is(err, privacy.ErrConflict) {
			break
		}
	}
	if err != nil {
		return n, err
	}
	if err := s.audit(ctx, tenantID, "breachsend-purge-"+c.ListID, "system", "breach.recipients.purged", incidentID,
		map[string]string{"list": c.ListID, "recipients": strconv.FormatInt(c.Total, 10)}); err != nil {
		return n + 1, fmt.Errorf("audit the purge: %w", err)
	}
	s.d.Logger.InfoContext(ctx, "breach recipient list purged", "tenant_id", tenantID, "recipients", c.Total)
	return n + 1, nil
}

// Watch is the deadline watch's hook: it purges every list, of any tenant,
// whose time has come (expired campaigns' lists, and staged lists: uploads a
// crash cut short or that were replaced), so a lost purge message or a
// crashed upload never keeps a list past its time. It returns how many
// lists it purged.
func (s *Service) Watch(ctx context.Context, limit int) (int, error) {
	due, err := s.d.Store.Expired(ctx, s.d.Now().UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("list expired recipient lists: %w", err)
	}
	total := 0
	var errs []error
	for _, d := range due {
		var n int
		if d.Staged {
			var deleted bool
			if deleted, err = s.purgeStaged(ctx, d.TenantID, d.IncidentID, d.ListID); deleted {
				n = 1
			}
		} else {
			n, err = s.Purge(ctx, d.TenantID, d.IncidentID)
		}
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", d.TenantID, err))
		}
	}
	return total, errors.Join(errs...)
}
