package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Preview is a dry run's result: per policy what a run now would purge and
// keep, with the cutoffs it would use.
type Preview struct {
	At time.Time `json:"at"`
	// Complete is false when the budget ran out before every policy was
	// scanned; the counts are then those of what was scanned.
	Complete bool           `json:"complete"`
	Policies []PolicyReport `json:"policies"`
}

// Preview is a dry run of the tenant's policies (or of one, policyID not
// ""): the same scan and decisions as Run, counting, within budget. It
// touches no data; its only write is, on each policy that needs sign-off,
// the counts of a complete preview (what an approval approves).
func (s *Sweeper) Preview(ctx context.Context, tenantID, policyID string, budget time.Duration) (*Preview, error) {
	start := s.d.Now()
	t, err := s.d.Tenants.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("retention: get tenant: %w", err)
	}
	if policyID != "" && t.RetentionPolicy(policyID) == nil {
		return nil, privacy.Errorf(privacy.KindNotFound, "unknown-retention-policy", "no such retention policy")
	}
	out := &Preview{At: start.UTC(), Complete: true, Policies: []PolicyReport{}}
	for _, pp := range NewPlans(t, s.floors(), start) {
		if policyID != "" && pp.PolicyID != policyID {
			continue
		}
		pr := PolicyReport{PolicyPlan: pp, Status: "pending"}
		items, svc, reason := s.target(t, &pr)
		if reason != "" {
			pr.Status, pr.Reason = reason, s.reasonText(&pr, svc)
			out.Policies = append(out.Policies, pr)
			continue
		}
		if svc != nil && svc.Kind != privacy.KindCosmos {
			// A service's purge is previewed by its dry run, if it has one.
			s.previewPurge(ctx, t, &pr, svc, start, budget)
		}
		cursor := ""
		for pr.Status == "pending" {
			if s.d.Now().Sub(start) >= budget {
				out.Complete = false
				break
			}
			var page *Page
			var err error
			if pr.Scope == ScopeSuite && pr.Category == CategoryRejectedInbound {
				page, _, err = s.scanInbound(ctx, t, &pr, cursor)
			} else if pr.Scope == ScopeSuite && pr.Category == CategoryBreachRecords {
				page, _, err = s.scanBreach(ctx, t, &pr, cursor)
			} else if pr.Scope == ScopeSuite {
				page, _, err = s.scanPackages(ctx, t, &pr, cursor, start.UTC())
			} else {
				page, _, err = s.scan(ctx, t, &pr, svc, items, cursor)
			}
			switch {
			case err != nil:
				pr.Status, pr.Reason = "failed", "the container could not be read"
			case page.To == "":
				pr.Status = "done"
			default:
				pr.Add(page.Counts)
				cursor = page.To
			}
		}
		if pr.Status != "failed" && pr.Scope == ScopeService && s.d.Requests != nil && s.d.Blobs != nil {
			if !s.previewDerived(ctx, t, &pr, start, budget) {
				out.Complete = false
			}
		}
		out.Policies = append(out.Policies, pr)
	}
	if err := s.recordPreview(ctx, tenantID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// recordPreview keeps, on each previewed policy that needs sign-off, what a
// complete preview found (counts only): the preview an admin approves. It is
// the only write of a preview (none without such a policy); a policy changed
// since the preview started gets none. ETag-guarded, re-read on a conflict.
func (s *Sweeper) recordPreview(ctx context.Context, tenantID string, pv *Preview) error {
	if !pv.Complete {
		return nil
	}
	for attempt := 0; ; attempt++ {
		t, err := s.d.Tenants.GetTenant(ctx, tenantID)
		if err != nil {
			return fmt.Errorf("retention: record preview: %w", err)
		}
		changed := false
		for _, pr := range pv.Policies {
			p := t.RetentionPolicy(pr.PolicyID)
			if p == nil || !p.SignOff || p.UpdatedAt.After(pv.At) || pr.Status == "failed" {
				continue
			}
			p.LastPreview = &privacy.RetentionPreviewRecord{At: pv.At, Status: pr.Status, Scanned: pr.Scanned, Purged: pr.Purged,
				KeptByHold: pr.KeptByHold, KeptByFloor: pr.KeptByFloor, Derived: pr.Derived}
			changed = true
		}
		if !changed {
			return nil
		}
		err = s.d.Tenants.UpdateTenant(ctx, t)
		if err == nil || !errors.Is(err, privacy.ErrConflict) || attempt == 4 {
			if err != nil {
				return fmt.Errorf("retention: record preview: %w", err)
			}
			return nil
		}
	}
}

// previewDerived counts the derived copies (export packages) a run would
// remove under a service policy, within budget; false when cut short.
func (s *Sweeper) previewDerived(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, start time.Time, budget time.Duration) bool {
	for cursor := ""; ; {
		if s.d.Now().Sub(start) >= budget {
			return false
		}
		page, _, err := s.scanDerived(ctx, t, pr, cursor, start.UTC())
		if err != nil {
			pr.Status, pr.Reason = "failed", "the requests holding derived copies could not be read"
			return true
		}
		if page.To == "" {
			return true
		}
		pr.Add(page.Counts)
		cursor = page.To
	}
}
