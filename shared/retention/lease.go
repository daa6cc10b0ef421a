package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// claim starts a run of the tenant as owner, or takes over its unfinished
// run (resuming from the checkpoint) unless another owner's lease holds.
func (s *Sweeper) claim(ctx context.Context, tenantID, owner string) (*privacy.Tenant, State, error) {
	for attempt := 0; ; attempt++ {
		t, err := s.d.Tenants.GetTenant(ctx, tenantID)
		if err != nil {
			return nil, State{}, fmt.Errorf("retention: get tenant: %w", err)
		}
		st, err := decodeState(t)
		if err != nil {
			return nil, State{}, err
		}
		now := s.d.Now().UTC()
		if cur := st.Current; cur != nil && cur.Owner != "" && cur.Owner != owner && now.Before(cur.LeaseUntil) {
			return nil, State{}, ErrRunInProgress
		}
		if st.Current == nil {
			run := &Run{ID: s.d.NewID(), StartedAt: now}
			for _, pp := range NewPlans(t, s.floors(), now) {
				run.Policies = append(run.Policies, PolicyReport{PolicyPlan: pp, Status: "pending"})
			}
			st.Current = run
		}
		st.Current.Owner, st.Current.LeaseUntil = owner, now.Add(s.cfg.Lease)
		st.Current.Invocations++
		if err := encodeState(t, st); err != nil {
			return nil, State{}, err
		}
		err = s.d.Tenants.UpdateTenant(ctx, t)
		if errors.Is(err, privacy.ErrConflict) && attempt < 4 {
			continue
		}
		if err != nil {
			return nil, State{}, fmt.Errorf("retention: claim run: %w", err)
		}
		s.d.Step("retention-run-claimed")
		return t, st, nil
	}
}

// write checkpoints the run: it stores st in the tenant document (one
// ETag-guarded write) and renews the lease. On a conflict (an admin changed
// the tenant meanwhile) it re-reads the tenant, checks the run is still
// owner's, and writes st over the fresh document: nothing but the sweep
// changes the retention state while its lease holds.
func (s *Sweeper) write(ctx context.Context, t *privacy.Tenant, st State, owner string) (*privacy.Tenant, error) {
	if st.Current != nil && st.Current.Owner != "" {
		st.Current.LeaseUntil = s.d.Now().UTC().Add(s.cfg.Lease)
	}
	var audit []privacy.AuditEvent
	if st.Current != nil {
		audit = st.Current.audit
	}
	t, err := s.writeWith(ctx, t, st, owner, audit, true)
	if err == nil && st.Current != nil {
		st.Current.audit = nil
	}
	return t, err
}

// writeWith is write carrying audit, the run's audit events, in the write's
// outbox, and (flush) carrying the outbox out after the write.
func (s *Sweeper) writeWith(ctx context.Context, t *privacy.Tenant, st State, owner string, audit []privacy.AuditEvent, flush bool) (*privacy.Tenant, error) {
	for attempt := 0; ; attempt++ {
		if err := encodeState(t, st); err != nil {
			return t, err
		}
		// The run's audit events ride in this write's outbox (again after
		// a conflict, on the fresh document; an id already there is not
		// added twice).
		for _, e := range audit {
			if !slices.ContainsFunc(t.PendingAudit, func(p privacy.AuditEvent) bool { return p.ID == e.ID }) {
				t.PendingAudit = append(t.PendingAudit, e)
			}
		}
		err := s.d.Tenants.UpdateTenant(ctx, t)
		if err == nil {
			if flush && len(audit) > 0 && len(t.PendingAudit) > 0 {
				s.d.Step("retention-audit-written")
				if flushed, err := s.d.Flush(ctx, t); err == nil {
					t = flushed
				} else {
					// Durable in the outbox: the next write's flush or the
					// hourly watch carries it out.
					s.d.Logger.Warn("retention audit deferred", "tenant_id", t.ID, "error", err.Error())
				}
			}
			return t, nil
		}
		if !errors.Is(err, privacy.ErrConflict) || attempt == 4 {
			return t, fmt.Errorf("retention: checkpoint: %w", err)
		}
		fresh, err := s.d.Tenants.GetTenant(ctx, t.ID)
		if err != nil {
			return t, fmt.Errorf("retention: checkpoint: %w", err)
		}
		stored, err := decodeState(fresh)
		if err != nil {
			return t, err
		}
		if stored.Current == nil || st.Current == nil || stored.Current.ID != st.Current.ID || stored.Current.Owner != owner {
			return t, errors.New("retention: checkpoint: the run was taken over (its lease ran out)")
		}
		// Keep the holds, policies and settings as they are now; the next
		// page decides by them. Keep the services' answers recorded since.
		mergeAnswers(st.Current, stored.Current)
		t = fresh
	}
}

// finish ends the run: it moves its report to the recent runs and records an
// audit event with the totals in the same write, then flushes the outbox.
func (s *Sweeper) finish(ctx context.Context, t *privacy.Tenant, st State, owner string, log *slog.Logger) (*Run, error) {
	run := st.Current
	now := s.d.Now().UTC()
	run.FinishedAt, run.Owner, run.LeaseUntil, run.Cursor = now, "", time.Time{}, ""
	var tot PolicyReport
	failed := 0
	for _, p := range run.Policies {
		tot.Add(Counts{Scanned: p.Scanned, Purged: p.Purged, KeptByHold: p.KeptByHold, KeptByFloor: p.KeptByFloor, Failed: p.Failed,
			Anonymised: p.Anonymised, StorageOnly: p.StorageOnly, Derived: p.Derived})
		if p.Status == "failed" || p.Status == StatusNoAnswer {
			failed++
		}
	}
	st.Current = nil
	st.Recent = append([]Run{*run}, st.Recent...)
	if len(st.Recent) > s.cfg.KeepRuns {
		st.Recent = st.Recent[:s.cfg.KeepRuns]
	}
	run.audit = append(run.audit, privacy.AuditEvent{ID: "aud_retention_" + run.ID, TenantID: t.ID, At: now,
		Actor: "system:retention", Action: "retention.run-finished", Target: "retention-run/" + run.ID,
		Details: map[string]string{"policies": strconv.Itoa(len(run.Policies)), "failedPolicies": strconv.Itoa(failed),
			"scanned": strconv.FormatInt(tot.Scanned, 10), "purged": strconv.FormatInt(tot.Purged, 10),
			"keptByHold": strconv.FormatInt(tot.KeptByHold, 10), "keptByFloor": strconv.FormatInt(tot.KeptByFloor, 10),
			"failed": strconv.FormatInt(tot.Failed, 10), "anonymised": strconv.FormatInt(tot.Anonymised, 10),
			"storageOnly": strconv.FormatInt(tot.StorageOnly, 10), "derived": strconv.FormatInt(tot.Derived, 10)}})
	t, err := s.writeWith(ctx, t, st, owner, run.audit, false)
	if err != nil {
		return run, err
	}
	run.audit = nil
	s.d.Step("retention-run-finished")
	if _, err := s.d.Flush(ctx, t); err != nil {
		log.Warn("retention audit deferred to the deadline watch", "error", err.Error())
	}
	log.Info("retention run finished", "policies", len(run.Policies), "failed_policies", failed, "scanned", tot.Scanned,
		"purged", tot.Purged, "kept_by_hold", tot.KeptByHold, "kept_by_floor", tot.KeptByFloor, "failed", tot.Failed)
	return run, nil
}
