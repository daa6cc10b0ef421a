package retention

import (
	"context"
	"slices"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Derived copies: an export package holds a copy of what each service
// exported for the request. A package made before a service policy's cutoff
// holds only data of that service older than the cutoff, so it is past the
// policy too and goes in the same sweep as the service's own data: its blob
// and its tasks' export files first, then the removal recorded on the request
// (as the export-packages policy removes packages).

// scanDerived reads one page of the tenant's requests after cursor and
// decides each kept package with an export from the policy's service: its
// event is the package's creation, decided under the policy (holds of the
// subject, the service, the policy's category and the export-packages
// category keep it; floors bind it), and a package whose download link still
// works is not due. Only removals are counted (Derived).
func (s *Sweeper) scanDerived(ctx context.Context, t *privacy.Tenant, pr *PolicyReport, cursor string, start time.Time) (*Page, []*privacy.Request, error) {
	page := &Page{From: cursor, Phase: phaseDerived}
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
		if s.decideDerived(t, pr, r, start) {
			page.Counts.Derived++
			purge = append(purge, r)
			subjects.add(r.SubjectHash)
		}
	}
	page.Subjects = subjects.sorted(nil)
	page.To = res.Next
	if page.To == "" {
		page.To = endOfRequests
	}
	return page, purge, nil
}

// decideDerived reports whether r's package is a derived copy of the
// policy's service's data that is past the policy.
func (s *Sweeper) decideDerived(t *privacy.Tenant, pr *PolicyReport, r *privacy.Request, start time.Time) bool {
	if r.Package == nil || !r.Package.RemovedAt.IsZero() || r.Package.ExpiresAt.After(start) {
		return false
	}
	if !slices.ContainsFunc(r.Tasks, func(k privacy.Task) bool {
		return k.Service == pr.Service && k.Action == privacy.ActionExport && k.Status == privacy.TaskDone
	}) {
		return false
	}
	if o, _ := pr.Decide(t, Item{Event: r.Package.CreatedAt, SubjectHash: r.SubjectHash}); o != Purge {
		return false
	}
	for i := range t.Holds {
		if t.Holds[i].CoversRetention(r.SubjectHash, "", CategoryExportPackages) {
			return false
		}
	}
	return true
}

// pageDerived is page for a service policy's derived copies: scan a page of
// requests, checkpoint, remove, fold.
func (s *Sweeper) pageDerived(ctx context.Context, t *privacy.Tenant, st State, owner string) (*privacy.Tenant, error) {
	run := st.Current
	return s.pageOf(ctx, t, st, owner, pageStep{fail: "the requests holding derived copies could not be read", wrap: "retention derived copies"},
		func(pr *PolicyReport) (*Page, func(*privacy.Tenant) error, error) {
			page, purge, err := s.scanDerived(ctx, t, pr, run.Cursor, run.StartedAt)
			return page, func(t *privacy.Tenant) error { return s.removePackages(ctx, t, purge) }, err
		})
}
