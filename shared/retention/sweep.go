package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
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
	// PagePause is a pause after each page, leaving the store to the live
	// service (the embedded store has one writer); 0: none.
	PagePause time.Duration
	// AnswerWait is how long a run waits for a Service Bus service's answer
	// to a purge command before it reports the policy no-answer; default
	// DefaultAnswerWait.
	AnswerWait time.Duration
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
	Flush func(ctx context.Context, t *privacy.Tenant) (*privacy.Tenant, error)
	// Audit appends an audit event to the tenant's chain, idempotent by its
	// id (privacy.Store.AppendAudit): a page's tombstones go straight in,
	// after its deletes (the checkpoint's pending page holds them until
	// then). Nil: they ride in the next checkpoint's audit outbox instead.
	Audit func(ctx context.Context, e *privacy.AuditEvent) error
	// Requests and Blobs let a sweep expire export packages (suite policies
	// of category export-packages) and remove the derived copies of a
	// service's data; nil: those policies are not swept, nor the copies.
	Requests Requests
	Blobs    Blobs
	// Inbound is the inbound ledger, whose rejected messages keep their
	// bodies for a replay (suite policies of category rejected-inbound);
	// nil: those policies are not swept.
	Inbound InboundRecords
	// Breach is the tenant's breach notices and subject notification data
	// (suite policies of category breach-records); nil: not swept.
	Breach BreachRecords
	// Purgers call a service's purge action, per connector kind (webhook, servicebus);
	// a policy on a service of a kind without one fails, reported.
	Purgers map[privacy.ConnectorKind]privacy.Purger
	Now     func() time.Time
	NewID   func() string
	Step    func(name string) // crash points for tests
	Logger  *slog.Logger
	// Sleep pauses for d or until ctx ends (default: a timer).
	Sleep func(ctx context.Context, d time.Duration)
	// HeldEmail opens the sealed email of a subject hold (for a purge's
	// exclusion list; it never leaves the sweep); false for a hold without
	// one. Nil: every subject hold keeps a service's whole purge back.
	HeldEmail func(tenantID string, h *privacy.Hold) (string, bool)
}

// Sweeper runs retention sweeps, one tenant at a time.
type Sweeper struct {
	cfg   Config
	d     Deps
	pages sync.Mutex // one page at a time per process
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
	if cfg.AnswerWait <= 0 {
		cfg.AnswerWait = DefaultAnswerWait
	}
	if d.Step == nil {
		d.Step = func(string) {}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Sleep == nil {
		d.Sleep = func(ctx context.Context, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}
	return &Sweeper{cfg: cfg, d: d}, nil
}

// floors are the configured floors, else the embedded ones, parsed on the
// first sweep or preview rather than at start (issue 16).
func (s *Sweeper) floors() *Floors {
	if s.d.Floors != nil {
		return s.d.Floors
	}
	return DefaultFloors()
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
//
// The budget is cut to half the time left before ctx's deadline (the queue
// lease, the host's function timeout), so the invocation pauses with a
// checkpoint instead of being cancelled mid-page. A run that ends in an error
// releases its lease (best effort), so the redelivered job resumes it at once.
func (s *Sweeper) Run(ctx context.Context, tenantID, owner string, budget time.Duration) (*Run, error) {
	start := s.d.Now()
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, dl.Sub(start)/2)
	}
	t, st, err := s.claim(ctx, tenantID, owner)
	if err != nil {
		return nil, err
	}
	run, err := s.sweep(ctx, t, st, owner, start, budget)
	if err != nil {
		s.release(ctx, tenantID, st.Current.ID, owner)
	}
	return run, err
}

// release gives up owner's lease on the run as it is stored, so another
// invocation may take it over now rather than when the lease runs out. It
// uses a context of its own: the invocation's may be what ended it.
func (s *Sweeper) release(ctx context.Context, tenantID, runID, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	t, err := s.d.Tenants.GetTenant(ctx, tenantID)
	if err != nil {
		return
	}
	st, err := decodeState(t)
	if err != nil || st.Current == nil || st.Current.ID != runID || st.Current.Owner != owner {
		return
	}
	st.Current.Owner, st.Current.LeaseUntil = "", time.Time{}
	if encodeState(t, st) == nil {
		_ = s.d.Tenants.UpdateTenant(ctx, t) // a conflict leaves it to the lease
	}
}

// sweep is Run after the claim.
func (s *Sweeper) sweep(ctx context.Context, t *privacy.Tenant, st State, owner string, start time.Time, budget time.Duration) (*Run, error) {
	var err error
	tenantID := t.ID
	run := st.Current
	log := s.d.Logger.With("tenant_id", tenantID, "run_id", run.ID)
	for {
		if run.Pending != nil {
			if t, err = s.redo(ctx, t, run); err != nil {
				return run, err
			}
		}
		if run.Policy >= len(run.Policies) {
			if wait := s.expireAnswers(run, log); !wait.IsZero() {
				// Only Service Bus answers are left: pause until the
				// earliest deadline (an answer that ends the wait
				// finishes the run sooner).
				run.Owner, run.LeaseUntil = "", time.Time{}
				if t, err = s.write(ctx, t, st, owner); err != nil {
					return run, err
				}
				log.Info("retention run waits for services' answers", "awaiting", awaiting(run), "until", wait)
				return run, nil
			}
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
		if run.Phase == phaseDerived {
			func() {
				s.pages.Lock()
				defer s.pages.Unlock()
				t, err = s.pageDerived(ctx, t, st, owner)
			}()
			if err != nil {
				return run, err
			}
			continue
		}
		if p := t.RetentionPolicy(pr.PolicyID); p != nil && p.AwaitingSignOff() {
			// Nothing of it is purged until an admin approves its preview;
			// the other policies run.
			pr.Status, pr.Reason = "awaiting-sign-off", "the policy needs sign-off: preview it and approve that preview"
			run.Policy, run.Phase, run.Cursor = run.Policy+1, phaseItems, ""
			continue
		}
		items, svc, reason := s.target(t, pr)
		if reason != "" {
			pr.Status, pr.Reason = reason, s.reasonText(pr, svc)
			s.nextPhase(run)
			continue
		}
		if pr.Scope == ScopeService && svc.Kind == privacy.KindServiceBus {
			// A command to the service's queue; the answer comes later.
			if t, err = s.sendPurge(ctx, t, st, owner, svc, log); err != nil {
				return run, err
			}
			continue
		}
		pr.Status = "running"
		if pr.Scope == ScopeService && svc.Kind != privacy.KindCosmos {
			// A call to the service: not under the page lock, which is
			// for the embedded store's one writer.
			var wait time.Time
			if t, wait, err = s.purgeService(ctx, t, st, owner, svc, log); err != nil {
				return run, err
			}
			if !wait.IsZero() {
				if left := budget - s.d.Now().Sub(start); wait.Sub(s.d.Now()) < left {
					s.d.Sleep(ctx, wait.Sub(s.d.Now()))
					if err := ctx.Err(); err != nil {
						return run, fmt.Errorf("retention: waiting to call a purge again: %w", err)
					}
					continue
				}
				// Too long to wait here: pause; the job comes back then.
				run.Owner, run.LeaseUntil = "", time.Time{}
				if t, err = s.write(ctx, t, st, owner); err != nil {
					return run, err
				}
				log.Info("retention run paused until a purge is called again", "policy", run.Policy, "retry_at", wait)
				return run, nil
			}
			continue
		}
		// One page at a time per process: the embedded store has one
		// writer, which the live service needs too.
		func() {
			s.pages.Lock()
			defer s.pages.Unlock()
			if pr.Scope == ScopeSuite && pr.Category == CategoryRejectedInbound {
				t, err = s.pageInbound(ctx, t, st, owner)
			} else if pr.Scope == ScopeSuite && pr.Category == CategoryBreachRecords {
				t, err = s.pageBreach(ctx, t, st, owner)
			} else if pr.Scope == ScopeSuite {
				t, err = s.pagePackages(ctx, t, st, owner)
			} else {
				t, err = s.page(ctx, t, st, owner, items, svc, log)
			}
		}()
		if err != nil {
			return run, err
		}
		if s.cfg.PagePause > 0 {
			s.d.Sleep(ctx, s.cfg.PagePause)
		}
	}
}

// fold adds the pending page's counts to its policy and moves the cursor
// past it (in memory: the next checkpoint writes it). It first enters the
// page's tombstone in the audit chain (Deps.Audit; idempotent by its id, so a
// page redone enters it once); a failure keeps the page pending.
func (s *Sweeper) fold(ctx context.Context, tenantID string, run *Run) error {
	p := run.Pending
	if e, ok := tombstone(tenantID, run, p, s.d.Now()); ok {
		if s.d.Audit == nil {
			run.audit = append(run.audit, e) // in the next checkpoint's outbox
		} else if err := s.d.Audit(ctx, &e); err != nil {
			return fmt.Errorf("retention tombstones: %w", err)
		}
	}
	run.Policies[p.Policy].Add(p.Counts)
	run.Cursor = p.To
	run.Pending = nil
	return nil
}

// redo finishes a page a crash left pending: it scans the page's range again
// and deletes what still decides Purge (a hold placed meanwhile wins), then
// counts the page once, as it was decided.
func (s *Sweeper) redo(ctx context.Context, t *privacy.Tenant, run *Run) (*privacy.Tenant, error) {
	p := run.Pending
	pr := &run.Policies[p.Policy]
	if p.Phase == phaseDerived {
		_, purge, err := s.scanDerived(ctx, t, pr, p.From, run.StartedAt)
		if err == nil {
			err = s.removePackages(ctx, t, purge)
		}
		if err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
	} else if items, svc, reason := s.target(t, pr); reason == "" && pr.Category == CategoryRejectedInbound {
		if err := s.redoInbound(ctx, t, run); err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
	} else if reason == "" && pr.Category == CategoryBreachRecords {
		if err := s.redoBreach(ctx, t, run); err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
	} else if reason == "" && pr.Scope == ScopeSuite {
		if err := s.redoPackages(ctx, t, run); err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
	} else if reason == "" && svc.Kind == privacy.KindCosmos {
		purge, held, err := s.scanRange(ctx, t, pr, svc, items, p.From, p.To)
		if err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
		if _, err := s.carryOut(ctx, t, pr, svc, items, purge); err != nil {
			return t, fmt.Errorf("retention redo page: %w", err)
		}
		p.Subjects = subjectSetOf(p.Subjects).sorted(held)
	}
	// A hold placed since the page was planned kept what it covers: no
	// tombstone for those subjects (one whose items the first attempt
	// deleted goes without one, rather than a tombstone for kept data).
	p.Subjects = slices.DeleteFunc(p.Subjects, func(h string) bool {
		return slices.ContainsFunc(t.Holds, func(hd privacy.Hold) bool { return hd.CoversRetention(h, pr.Service, pr.Category) })
	})
	run.Policy, run.Phase = p.Policy, p.Phase
	if err := s.fold(ctx, t.ID, run); err != nil {
		return t, fmt.Errorf("retention redo page: %w", err)
	}
	return t, nil
}

// target returns the container a policy sweeps, or why it cannot be swept:
// "not-swept" (a scope no sweep reaches yet) or "failed".
func (s *Sweeper) target(t *privacy.Tenant, pr *PolicyReport) (Items, *privacy.Service, string) {
	if pr.Scope == ScopeSuite {
		if pr.Category == CategoryExportPackages && s.d.Requests != nil && s.d.Blobs != nil ||
			(pr.Category == CategoryDSRRecords || pr.Category == CategoryVerificationCodes) && s.d.Requests != nil ||
			pr.Category == CategoryRejectedInbound && s.d.Inbound != nil ||
			pr.Category == CategoryBreachRecords && s.d.Breach != nil {
			return nil, nil, ""
		}
		return nil, nil, "not-swept"
	}
	svc := t.Service(pr.Service)
	switch {
	case svc == nil:
		return nil, svc, "failed"
	case svc.Kind == privacy.KindWebhook || svc.Kind == privacy.KindServiceBus:
		return nil, svc, "" // through its purge action
	case svc.Kind != privacy.KindCosmos || s.d.Items == nil:
		return nil, svc, "failed"
	}
	if _, ok := s.d.Items.(Marker); pr.Action == ActionStorageOnly && !ok {
		return nil, svc, "failed"
	}
	return s.d.Items, svc, ""
}

func (s *Sweeper) reasonText(pr *PolicyReport, svc *privacy.Service) string {
	switch {
	case pr.Scope == ScopeSuite:
		return "this store does not sweep these records of privops"
	case svc == nil:
		return "the service no longer exists"
	case svc.Kind != privacy.KindCosmos:
		return "the service has neither a built-in container nor a purge privops can call"
	}
	if _, ok := s.d.Items.(Marker); s.d.Items != nil && pr.Action == ActionStorageOnly && !ok {
		return "this store cannot mark items storage-only"
	}
	return "this store cannot page the container by age"
}
