package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Tenants is what a sweep needs of the store: the tenant document carries the
// policies, the holds and the run's state. UpdateTenant is ETag-guarded
// (privacy.ErrConflict when the document moved on).
type Tenants interface {
	GetTenant(ctx context.Context, id string) (*privacy.Tenant, error)
	UpdateTenant(ctx context.Context, t *privacy.Tenant) error
}

// Items is what a sweep needs of the built-in data containers. ScanItemsBefore
// calls fn with up to limit items of the tenant's container whose id sorts
// after afterID and whose value at path is an RFC 3339 time before before, in
// id order (a prefilter: the sweep checks the time again). DeleteItemIDs
// deletes items by id and counts those it deleted; repeating it is harmless.
type Items interface {
	ScanItemsBefore(ctx context.Context, tenantID, container, path string, before time.Time, afterID string, limit int, fn func(id string, doc []byte) error) error
	DeleteItemIDs(ctx context.Context, tenantID, container string, ids []string) (int, error)
}

// Config tunes a sweep.
type Config struct {
	PageSize int           // items per page (one scan, one delete batch, one checkpoint); default 500
	Lease    time.Duration // how long a run is its owner's without a checkpoint; default 10m
	KeepRuns int           // finished runs kept in the tenant's state; default 10
}

// Deps are a sweep's collaborators.
type Deps struct {
	Tenants Tenants
	// Items are the built-in data containers; nil where the store has none
	// that can be paged by age (the policies of such services fail, reported).
	Items  Items
	Floors *Floors // default: DefaultFloors()
	// Hash is the keyed subject hash subject holds are placed by
	// (privacy.SubjectHasher.Hash).
	Hash func(tenantID, email string) string
	// Flush carries out the tenant document's audit outbox after the write
	// that finished a run (dsr.Service.FlushTenant); the hourly watch
	// finishes it if this fails.
	Flush  func(ctx context.Context, t *privacy.Tenant) (*privacy.Tenant, error)
	Now    func() time.Time
	NewID  func() string
	Step   func(name string) // crash points for tests
	Logger *slog.Logger
}

// Sweeper runs retention sweeps, one tenant at a time.
type Sweeper struct {
	cfg Config
	d   Deps
}

// NewSweeper returns a sweeper.
func NewSweeper(cfg Config, d Deps) (*Sweeper, error) {
	if d.Tenants == nil || d.Hash == nil || d.Flush == nil || d.Now == nil || d.NewID == nil {
		return nil, errors.New("retention: tenants, hash, flush, clock and ids are required")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 500
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Minute
	}
	if cfg.KeepRuns <= 0 {
		cfg.KeepRuns = 10
	}
	if d.Floors == nil {
		d.Floors = DefaultFloors()
	}
	if d.Step == nil {
		d.Step = func(string) {}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg, d: d}, nil
}

// ErrRunInProgress is the answer to a run of a tenant whose run another
// invocation holds: two sweeps never overlap; the second skips.
var ErrRunInProgress = privacy.Errorf(privacy.KindConflict, "retention-run-in-progress",
	"a retention run of this tenant is in progress; it resumes from its checkpoint")

// Run sweeps the tenant's policies as owner for at most budget (checked
// between pages): it starts a run (cutoffs computed now, once) or resumes the
// tenant's unfinished one from its checkpoint, and works page by page: scan,
// decide each item (holds, then floors, then the policy), write the page as a
// checkpoint (one tenant write), delete, and fold the counts into the next
// checkpoint. It returns the run as last written; the run is unfinished when
// the budget ran out, and the next call (by any owner) resumes it. One
// failing policy is reported as failed and the others are swept.
// ErrRunInProgress if another owner's lease holds.
func (s *Sweeper) Run(ctx context.Context, tenantID, owner string, budget time.Duration) (*Run, error) {
	start := s.d.Now()
	t, st, err := s.claim(ctx, tenantID, owner)
	if err != nil {
		return nil, err
	}
	run := st.Current
	log := s.d.Logger.With("tenant_id", tenantID, "run_id", run.ID)
	for {
		if run.Pending != nil {
			if t, err = s.redo(ctx, t, run); err != nil {
				return run, err
			}
		}
		if run.Policy >= len(run.Policies) {
			return s.finish(ctx, t, st, owner, log)
		}
		if s.d.Now().Sub(start) >= budget {
			run.Owner, run.LeaseUntil = "", time.Time{}
			if t, err = s.write(ctx, t, st, owner); err != nil {
				return run, err
			}
			log.Info("retention run paused at its budget", "policy", run.Policy)
			return run, nil
		}
		pr := &run.Policies[run.Policy]
		items, svc, reason := s.target(t, pr)
		if reason != "" {
			pr.Status, pr.Reason = reason, s.reasonText(pr, svc)
			run.Policy, run.Cursor = run.Policy+1, ""
			continue
		}
		pr.Status = "running"
		page, purge, err := s.scan(ctx, t, pr, svc, items, run.Cursor)
		if err != nil {
			log.Warn("retention policy failed", "policy", pr.PolicyID, "error", err.Error())
			pr.Status, pr.Reason = "failed", "the container could not be read"
			run.Policy, run.Cursor = run.Policy+1, ""
			continue
		}
		if page.Counts.Scanned == 0 && page.To == "" {
			pr.Status = "done"
			run.Policy, run.Cursor = run.Policy+1, ""
			continue
		}
		page.Policy = run.Policy
		run.Pending = page
		if t, err = s.write(ctx, t, st, owner); err != nil {
			return run, err
		}
		s.d.Step("retention-page-planned")
		if _, err := items.DeleteItemIDs(ctx, t.ID, svc.Container, purge); err != nil {
			log.Warn("retention delete failed", "policy", pr.PolicyID, "count", len(purge), "error", err.Error())
			page.Counts.Failed += page.Counts.Purged
			page.Counts.Purged = 0
			page.Counts.Oldest, page.Counts.Newest = time.Time{}, time.Time{}
			pr.Status, pr.Reason = "failed", "deleting from the container failed"
			s.fold(run)
			run.Policy, run.Cursor = run.Policy+1, ""
			continue
		}
		s.d.Step("retention-page-deleted")
		log.Debug("retention page", "policy", pr.PolicyID, "purged", len(purge), "scanned", page.Counts.Scanned)
		s.fold(run)
	}
}

// fold adds the pending page's counts to its policy and moves the cursor
// past it (in memory: the next checkpoint writes it).
func (s *Sweeper) fold(run *Run) {
	p := run.Pending
	run.Policies[p.Policy].Add(p.Counts)
	run.Cursor = p.To
	run.Pending = nil
}

// redo finishes a page a crash left pending: it scans the page's range again
// and deletes what still decides Purge (a hold placed meanwhile wins), then
// counts the page once, as it was decided.
func (s *Sweeper) redo(ctx context.Context, t *privacy.Tenant, run *Run) (*privacy.Tenant, error) {
	p := run.Pending
	pr := &run.Policies[p.Policy]
	items, svc, reason := s.target(t, pr)
	if reason == "" {
		_, purge, err := s.scanRange(ctx, t, pr, svc, items, p.From, p.To)
		if err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
		if _, err := items.DeleteItemIDs(ctx, t.ID, svc.Container, purge); err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
	}
	run.Policy = p.Policy
	s.fold(run)
	return t, nil
}

// target returns the container a policy sweeps, or why it cannot be swept:
// "not-swept" (a scope no sweep reaches yet) or "failed".
func (s *Sweeper) target(t *privacy.Tenant, pr *PolicyReport) (Items, *privacy.Service, string) {
	if pr.Scope == ScopeSuite {
		return nil, nil, "not-swept"
	}
	svc := t.Service(pr.Service)
	if svc == nil || svc.Kind != privacy.KindCosmos || s.d.Items == nil {
		return nil, svc, "failed"
	}
	return s.d.Items, svc, ""
}

func (s *Sweeper) reasonText(pr *PolicyReport, svc *privacy.Service) string {
	switch {
	case pr.Scope == ScopeSuite:
		return "privops's own records are not swept yet"
	case svc == nil:
		return "the service no longer exists"
	case svc.Kind != privacy.KindCosmos:
		return "the service has no built-in container"
	}
	return "this store cannot page the container by age"
}

// scan reads one page of the policy's container after cursor and decides each
// item. It returns the page (To is the last id read) and the ids to purge.
func (s *Sweeper) scan(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, items Items, cursor string) (*Page, []string, error) {
	page := &Page{From: cursor}
	var purge []string
	err := items.ScanItemsBefore(ctx, t.ID, svc.Container, pr.TimestampPath, pr.Cutoff, cursor, s.cfg.PageSize, func(id string, doc []byte) error {
		page.To = id
		if o, ev, ok := s.decide(t, pr, svc, doc); ok {
			page.Counts.Count(o, ev)
			if o == Purge {
				purge = append(purge, id)
			}
		}
		return nil
	})
	return page, purge, err
}

// scanRange decides again the items in (from, to] (a pending page).
func (s *Sweeper) scanRange(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, items Items, from, to string) (Counts, []string, error) {
	var c Counts
	var purge []string
	errStop := errors.New("stop")
	err := items.ScanItemsBefore(ctx, t.ID, svc.Container, pr.TimestampPath, pr.Cutoff, from, s.cfg.PageSize, func(id string, doc []byte) error {
		if id > to {
			return errStop
		}
		if o, ev, ok := s.decide(t, pr, svc, doc); ok {
			c.Count(o, ev)
			if o == Purge {
				purge = append(purge, id)
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return c, purge, err
}

// decide reads an item's event time and subject and decides it. ok is false
// for an item whose time cannot be read (never purged, not counted).
func (s *Sweeper) decide(t *privacy.Tenant, pr *PolicyReport, svc *privacy.Service, doc []byte) (Outcome, time.Time, bool) {
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		return NotDue, time.Time{}, false
	}
	raw, _ := at(v, pr.TimestampPath).(string)
	ev, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return NotDue, time.Time{}, false
	}
	it := Item{Event: ev}
	if p := svc.IdentityPaths["email"]; p != "" {
		if email, _ := at(v, p).(string); email != "" {
			it.SubjectHash = s.d.Hash(t.ID, email)
		}
	}
	o, _ := pr.Decide(t, it)
	return o, ev, true
}

// at returns the value at a /a/b path of a decoded JSON object, or nil.
func at(v map[string]any, path string) any {
	var cur any = v
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

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
			for _, pp := range NewPlans(t, s.d.Floors, now) {
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
	for attempt := 0; ; attempt++ {
		if err := encodeState(t, st); err != nil {
			return t, err
		}
		err := s.d.Tenants.UpdateTenant(ctx, t)
		if err == nil {
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
		// page decides by them.
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
		tot.Add(Counts{Scanned: p.Scanned, Purged: p.Purged, KeptByHold: p.KeptByHold, KeptByFloor: p.KeptByFloor, Failed: p.Failed})
		if p.Status == "failed" {
			failed++
		}
	}
	st.Recent = append([]Run{*run}, st.Recent...)
	if len(st.Recent) > s.cfg.KeepRuns {
		st.Recent = st.Recent[:s.cfg.KeepRuns]
	}
	st.Current = nil
	t.PendingAudit = append(t.PendingAudit, privacy.AuditEvent{ID: "aud_retention_" + run.ID, TenantID: t.ID, At: now,
		Actor: "system:retention", Action: "retention.run-finished", Target: "retention-run/" + run.ID,
		Details: map[string]string{"policies": strconv.Itoa(len(run.Policies)), "failedPolicies": strconv.Itoa(failed),
			"scanned": strconv.FormatInt(tot.Scanned, 10), "purged": strconv.FormatInt(tot.Purged, 10),
			"keptByHold": strconv.FormatInt(tot.KeptByHold, 10), "keptByFloor": strconv.FormatInt(tot.KeptByFloor, 10),
			"failed": strconv.FormatInt(tot.Failed, 10)}})
	t, err := s.write(ctx, t, st, owner)
	if err != nil {
		return run, err
	}
	s.d.Step("retention-run-finished")
	if _, err := s.d.Flush(ctx, t); err != nil {
		log.Warn("retention audit deferred to the deadline watch", "error", err.Error())
	}
	log.Info("retention run finished", "policies", len(run.Policies), "failed_policies", failed, "scanned", tot.Scanned,
		"purged", tot.Purged, "kept_by_hold", tot.KeptByHold, "kept_by_floor", tot.KeptByFloor, "failed", tot.Failed)
	return run, nil
}

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
// touches no data and writes nothing, not even its own report.
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
	for _, pp := range NewPlans(t, s.d.Floors, start) {
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
		cursor := ""
		for pr.Status == "pending" {
			if s.d.Now().Sub(start) >= budget {
				out.Complete = false
				break
			}
			page, _, err := s.scan(ctx, t, &pr, svc, items, cursor)
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
		out.Policies = append(out.Policies, pr)
	}
	return out, nil
}
