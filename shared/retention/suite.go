package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Requests is what a sweep needs of the request store to expire export
// packages (privops's own records, category export-packages). UpdateRequest
// is ETag-guarded.
type Requests interface {
	ListRequests(ctx context.Context, tenantID string, f privacy.RequestFilter) (privacy.RequestPage, error)
	GetRequest(ctx context.Context, tenantID, id string) (*privacy.Request, error)
	UpdateRequest(ctx context.Context, r *privacy.Request) error
}

// Blobs deletes export packages; deleting an absent blob is not an error.
type Blobs interface {
	Delete(ctx context.Context, name string) error
}

// endOfRequests is the cursor after a tenant's last page of requests.
const endOfRequests = "~end"

// scanPackages reads one page of the tenant's requests after cursor (the
// request store's own cursor) and decides each kept export package: its event
// is the package's creation; a package whose download link is still valid at
// the run's start is not due, whatever the policy says. It returns the page
// (To: the next cursor) and the requests whose package to remove.
func (s *Sweeper) scanPackages(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, cursor string, start time.Time) (*Page, []*privacy.Request, error) {
	page := &Page{From: cursor}
	if cursor == endOfRequests {
		return page, nil, nil
	}
	res, err := s.d.Requests.ListRequests(ctx, t.ID, privacy.RequestFilter{Limit: s.cfg.PageSize, Cursor: cursor})
	if err != nil {
		return nil, nil, err
	}
	var purge []*privacy.Request
	subjects := subjectSet{}
	for _, r := range res.Requests {
		o, ev, ok := s.decideRecord(t, pr, r, start)
		if !ok {
			continue
		}
		page.Counts.Count(o, ev)
		if o == Purge {
			purge = append(purge, r)
			if pr.Category != CategoryVerificationCodes { // a code's hash is not the subject's data
				subjects.add(r.SubjectHash)
			}
		}
	}
	page.Subjects = subjects.sorted(nil)
	page.Counts.actOn(pr.Action)
	page.To = res.Next
	if page.To == "" {
		page.To = endOfRequests
	}
	return page, purge, nil
}

// decidePackage decides one request's export package; ok is false when it has
// none (or it is gone already).
func (s *Sweeper) decidePackage(t *privacy.Tenant, pr *PolicyReport, r *privacy.Request, start time.Time) (Outcome, time.Time, bool) {
	if r.Package == nil || !r.Package.RemovedAt.IsZero() {
		return NotDue, time.Time{}, false
	}
	ev := r.Package.CreatedAt
	o, _ := pr.Decide(t, Item{Event: ev, SubjectHash: r.SubjectHash})
	if o == Purge && r.Package.ExpiresAt.After(start) {
		o = NotDue // its link still works: "expired packages" only
	}
	return o, ev, true
}

// removePackages deletes each package's blob (and its tasks' export files) first, then records the removal
// on its request (one ETag-guarded write, re-read on a conflict). A crash in
// between leaves a request naming a blob that is gone: the next sweep deletes
// it again (harmless) and records it; a download meanwhile answers 410.
func (s *Sweeper) removePackages(ctx context.Context, t *privacy.Tenant, purge []*privacy.Request) error {
	for _, r := range purge {
		// The tasks' export files are what the package was built from:
		// copies of the same data, removed with it.
		for _, k := range r.Tasks {
			if k.Action == privacy.ActionExport && k.Blob != "" {
				if err := s.d.Blobs.Delete(ctx, k.Blob); err != nil {
					return fmt.Errorf("delete export file: %w", err)
				}
			}
		}
		if err := s.d.Blobs.Delete(ctx, r.Package.Blob); err != nil {
			return fmt.Errorf("delete package blob: %w", err)
		}
		s.d.Step("retention-package-blob-deleted")
		for attempt := 0; ; attempt++ {
			if r.Package == nil || !r.Package.RemovedAt.IsZero() {
				break // recorded meanwhile
			}
			r.Package.RemovedAt = s.d.Now().UTC()
			err := s.d.Requests.UpdateRequest(ctx, r)
			if err == nil {
				break
			}
			if !errors.Is(err, privacy.ErrConflict) || attempt == 4 {
				return fmt.Errorf("record package removal: %w", err)
			}
			if r, err = s.d.Requests.GetRequest(ctx, t.ID, r.ID); err != nil {
				return fmt.Errorf("record package removal: %w", err)
			}
		}
	}
	return nil
}

// pagePackages is page for the export packages: scan a page of requests,
// checkpoint, remove, fold.
func (s *Sweeper) pagePackages(ctx context.Context, t *privacy.Tenant, st State, owner string) (*privacy.Tenant, error) {
	run := st.Current
	return s.pageOf(ctx, t, st, owner, pageStep{fail: "the requests could not be read", finish: true},
		func(pr *PolicyReport) (*Page, func(*privacy.Tenant) error, error) {
			page, purge, err := s.scanPackages(ctx, t, pr, run.Cursor, run.StartedAt)
			return page, func(t *privacy.Tenant) error { return s.removeRecords(ctx, t, pr, purge, run.StartedAt) }, err
		})
}

// pageStep says how pageOf reports a phase: the reason a policy fails for
// when its source cannot be read, whether the phase's end ends the policy,
// and the prefix of its errors.
type pageStep struct {
	fail   string
	finish bool
	wrap   string
}

// pageOf runs one page of a suite phase: scan it (a source that cannot be
// read fails the policy, never the run), checkpoint it as the run's pending
// page, carry it out, and fold it into the report. A crash after the
// checkpoint leaves the page pending; the redelivered job redoes it.
func (s *Sweeper) pageOf(ctx context.Context, t *privacy.Tenant, st State, owner string, step pageStep,
	scan func(pr *PolicyReport) (*Page, func(*privacy.Tenant) error, error)) (*privacy.Tenant, error) {
	run := st.Current
	pr := &run.Policies[run.Policy]
	page, act, err := scan(pr)
	if err != nil {
		s.d.Logger.Warn("retention policy failed", "tenant_id", t.ID, "policy", pr.PolicyID, "reason", step.fail, "error", err.Error())
		pr.Status, pr.Reason = "failed", step.fail
		s.nextPhase(run)
		return t, nil
	}
	if page.To == "" {
		if step.finish {
			pr.Status = "done"
		}
		s.nextPhase(run)
		return t, nil
	}
	page.Policy = run.Policy
	run.Pending = page
	if t, err = s.write(ctx, t, st, owner); err != nil {
		return t, err
	}
	s.d.Step("retention-page-planned")
	if err := act(t); err != nil {
		wrap := step.wrap
		if wrap == "" {
			wrap = "retention"
		}
		return t, fmt.Errorf("%s: %w", wrap, err)
	}
	s.d.Step("retention-page-deleted")
	if err := s.fold(ctx, t.ID, run); err != nil {
		return t, err
	}
	return t, nil
}

// redoPackages finishes a pending page of export packages: it reads the page
// again and removes what still decides Purge.
func (s *Sweeper) redoPackages(ctx context.Context, t *privacy.Tenant, run *Run) error {
	p := run.Pending
	pr := &run.Policies[p.Policy]
	_, purge, err := s.scanPackages(ctx, t, pr, p.From, run.StartedAt)
	if err != nil {
		return err
	}
	return s.removeRecords(ctx, t, pr, purge, run.StartedAt)
}

// decideRecord decides one request under a suite policy: its export package
// (export-packages) or its personal data (dsr-records).
func (s *Sweeper) decideRecord(t *privacy.Tenant, pr *PolicyReport, r *privacy.Request, start time.Time) (Outcome, time.Time, bool) {
	switch pr.Category {
	case CategoryDSRRecords:
		return s.decideClosed(t, pr, r)
	case CategoryVerificationCodes:
		return s.decideCode(t, pr, r, start)
	}
	return s.decidePackage(t, pr, r, start)
}

// decideCode decides a request's one-time code (its keyed hash): only a code
// that expired before the run started is due, and its age counts from that
// expiry (its creation is not stored; counting from the expiry keeps it a
// little longer than the policy says, never shorter).
func (s *Sweeper) decideCode(t *privacy.Tenant, pr *PolicyReport, r *privacy.Request, start time.Time) (Outcome, time.Time, bool) {
	v := r.Verification
	if v.CodeHash == "" || v.ExpiresAt.After(start) {
		return NotDue, time.Time{}, false
	}
	o, _ := pr.Decide(t, Item{Event: v.ExpiresAt, SubjectHash: r.SubjectHash})
	return o, v.ExpiresAt, true
}

// removeCodes drops the hash of each expired code (one ETag-guarded write
// each, re-read on a conflict); the request, its expiry, attempts and sends
// stay. A verification after the expiry is refused as code-expired before
// any hash is compared, and a new code (resend) sets a new hash.
func (s *Sweeper) removeCodes(ctx context.Context, t *privacy.Tenant, purge []*privacy.Request, start time.Time) error {
	for _, r := range purge {
		for attempt := 0; ; attempt++ {
			if r.Verification.CodeHash == "" || r.Verification.ExpiresAt.After(start) {
				break // removed meanwhile, or a new code was sent
			}
			r.Verification.CodeHash = ""
			err := s.d.Requests.UpdateRequest(ctx, r)
			if err == nil {
				break
			}
			if !errors.Is(err, privacy.ErrConflict) || attempt == 4 {
				return fmt.Errorf("remove code: %w", err)
			}
			if r, err = s.d.Requests.GetRequest(ctx, t.ID, r.ID); err != nil {
				return fmt.Errorf("remove code: %w", err)
			}
		}
	}
	return nil
}

// removeRecords carries out a suite policy on the requests decided Purge.
func (s *Sweeper) removeRecords(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, purge []*privacy.Request, start time.Time) error {
	switch pr.Category {
	case CategoryDSRRecords:
		return s.stripRecords(ctx, t, purge)
	case CategoryVerificationCodes:
		return s.removeCodes(ctx, t, purge, start)
	}
	return s.removePackages(ctx, t, purge)
}

// decideClosed decides a closed request's personal data: its event is the
// request's last change after it closed (UpdatedAt of a terminal request,
// never earlier than the closing), and the DSR-log floors (CCPA, CPA: 24
// months) bind it as any floor does.
func (s *Sweeper) decideClosed(t *privacy.Tenant, pr *PolicyReport, r *privacy.Request) (Outcome, time.Time, bool) {
	if !r.Status.Terminal() || !r.StrippedAt.IsZero() {
		return NotDue, time.Time{}, false
	}
	o, _ := pr.Decide(t, Item{Event: r.UpdatedAt, SubjectHash: r.SubjectHash})
	return o, r.UpdatedAt, true
}

// stripRecords removes the personal data of closed requests and keeps the
// stub: ids, type, status, dates, deadline, decision, tasks and their
// outcomes, the keyed subject hash (what the audit refers to). Gone: the
// subject's identifiers and residence, the submitter's note, rectify values,
// the code hash. One ETag-guarded write each, re-read on a conflict.
func (s *Sweeper) stripRecords(ctx context.Context, t *privacy.Tenant, purge []*privacy.Request) error {
	for _, r := range purge {
		for attempt := 0; ; attempt++ {
			if !r.Status.Terminal() || !r.StrippedAt.IsZero() {
				break
			}
			r.Subject = privacy.Subject{}
			r.Details = ""
			for i := range r.Changes {
				r.Changes[i].Value = ""
			}
			r.Verification.CodeHash = ""
			r.StrippedAt = s.d.Now().UTC()
			err := s.d.Requests.UpdateRequest(ctx, r)
			if err == nil {
				s.d.Step("retention-record-stripped")
				break
			}
			if !errors.Is(err, privacy.ErrConflict) || attempt == 4 {
				return fmt.Errorf("strip request: %w", err)
			}
			if r, err = s.d.Requests.GetRequest(ctx, t.ID, r.ID); err != nil {
				return fmt.Errorf("strip request: %w", err)
			}
		}
	}
	return nil
}
