package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// fakeRequests keeps requests in creation order and pages them newest first;
// the cursor is the index to continue from.
type fakeRequests struct {
	mu   sync.Mutex
	list []string // ids, oldest first
	docs map[string][]byte
	tags map[string]int
}

func (f *fakeRequests) add(r *privacy.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, r.ID)
	f.docs[r.ID], _ = json.Marshal(r)
	f.tags[r.ID] = 1
}

func (f *fakeRequests) get(id string) *privacy.Request {
	var r privacy.Request
	_ = json.Unmarshal(f.docs[id], &r)
	r.ETag = strconv.Itoa(f.tags[id])
	return &r
}

func (f *fakeRequests) ListRequests(_ context.Context, tenantID string, fl privacy.RequestFilter) (privacy.RequestPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := len(f.list) - 1
	if fl.Cursor != "" {
		start, _ = strconv.Atoi(fl.Cursor)
	}
	var page privacy.RequestPage
	i := start
	for ; i >= 0 && len(page.Requests) < fl.Limit; i-- {
		page.Requests = append(page.Requests, f.get(f.list[i]))
	}
	if i >= 0 {
		page.Next = strconv.Itoa(i)
	}
	return page, nil
}

func (f *fakeRequests) GetRequest(_ context.Context, _, id string) (*privacy.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.get(id), nil
}

func (f *fakeRequests) UpdateRequest(_ context.Context, r *privacy.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.ETag != strconv.Itoa(f.tags[r.ID]) {
		return privacy.ErrConflict
	}
	f.docs[r.ID], _ = json.Marshal(r)
	f.tags[r.ID]++
	r.ETag = strconv.Itoa(f.tags[r.ID])
	return nil
}

type fakeBlobs struct {
	mu      sync.Mutex
	deleted []string
}

func (b *fakeBlobs) Delete(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.Contains(b.deleted, name) {
		b.deleted = append(b.deleted, name)
	}
	return nil
}

// packagesFixture: a tenant with one export-packages policy (30 days) and
// seven requests: p1 and p7 past it with expired links (purged), p2 past it
// but its link still works, p3 young, p4 past it but its subject is held, p5
// without a package, p6 removed already.
func packagesFixture(tb testing.TB) (*sweepFixture, *fakeRequests, *fakeBlobs) {
	tb.Helper()
	f := newSweepFixture(tb)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.RetentionPolicies = []Policy{{ID: "packages", Category: CategoryExportPackages, Scope: ScopeSuite, MaxAgeDays: 30,
			From: FromCreated, Action: ActionDelete}}
		t.Holds = append(t.Holds, privacy.Hold{ID: "h9", Scope: privacy.HoldSubject, SubjectHash: "held-subject", Reason: "court order"})
	})
	f.tenants.writes = 0
	reqs := &fakeRequests{docs: map[string][]byte{}, tags: map[string]int{}}
	pkg := func(ageDays, linkDays int) *privacy.Package {
		c := sweepNow.AddDate(0, 0, -ageDays)
		return &privacy.Package{Blob: "acme/" + strconv.Itoa(ageDays) + ".zip", CreatedAt: c, ExpiresAt: c.AddDate(0, 0, linkDays)}
	}
	for i, p := range []*privacy.Package{pkg(60, 7), pkg(61, 90), pkg(10, 7), pkg(62, 7), nil, pkg(63, 7), pkg(64, 7)} {
		r := &privacy.Request{ID: fmt.Sprintf("p%d", i+1), TenantID: "acme", SubjectHash: fmt.Sprintf("s%d", i+1), Package: p}
		if i == 3 {
			r.SubjectHash = "held-subject"
		}
		if i == 5 {
			r.Package.RemovedAt = sweepNow.AddDate(0, 0, -1)
		}
		reqs.add(r)
	}
	return f, reqs, &fakeBlobs{}
}

func (f *sweepFixture) packagesSweeper(tb testing.TB, reqs *fakeRequests, blobs *fakeBlobs, step func(string)) *Sweeper {
	tb.Helper()
	s := f.sweeper(tb, step)
	s.d.Requests, s.d.Blobs = reqs, blobs
	s.cfg.PageSize = 2
	return s
}

func checkPackages(tb testing.TB, run *Run, reqs *fakeRequests, blobs *fakeBlobs) {
	tb.Helper()
	if diff := cmp.Diff([]counts{{"packages", "done", 3, 2, 1, 0, 0}}, countsOf(run.Policies)); diff != "" {
		tb.Errorf("report (-want +got):\n%s", diff)
	}
	slices.Sort(blobs.deleted)
	if diff := cmp.Diff([]string{"acme/60.zip", "acme/64.zip"}, blobs.deleted); diff != "" {
		tb.Errorf("blobs deleted (-want +got):\n%s", diff)
	}
	var removed []string
	for _, id := range reqs.list {
		if r := reqs.get(id); r.Package != nil && !r.Package.RemovedAt.IsZero() {
			removed = append(removed, id)
		}
	}
	if diff := cmp.Diff([]string{"p1", "p6", "p7"}, removed); diff != "" {
		tb.Errorf("requests whose package is removed (-want +got):\n%s", diff)
	}
}

func TestRunExpiresExportPackages(t *testing.T) {
	t.Parallel()
	f, reqs, blobs := packagesFixture(t)
	p, err := f.packagesSweeper(t, reqs, blobs, nil).Preview(t.Context(), "acme", "", time.Hour)
	if err != nil || countsOf(p.Policies)[0] != (counts{"packages", "done", 3, 2, 1, 0, 0}) || len(blobs.deleted) != 0 {
		t.Fatalf("preview: %+v, %v, %d blobs deleted", p, err, len(blobs.deleted))
	}
	run, err := f.packagesSweeper(t, reqs, blobs, nil).Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run: %+v, %v", run, err)
	}
	checkPackages(t, run, reqs, blobs)
}

func TestExportPackageSweepResumesAfterACrash(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"retention-page-planned#2", "retention-package-blob-deleted#1", "retention-package-blob-deleted#2", "retention-page-deleted#1"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			f, reqs, blobs := packagesFixture(t)
			name, n := point[:len(point)-2], int(point[len(point)-1]-'0')
			func() {
				defer func() {
					if _, ok := recover().(crash); !ok {
						t.Fatal("did not crash")
					}
				}()
				_, _ = f.packagesSweeper(t, reqs, blobs, crashAt(name, n)).Run(t.Context(), "acme", "a", time.Hour)
			}()
			f.clock.set(sweepNow.Add(11 * time.Minute))
			run, err := f.packagesSweeper(t, reqs, blobs, nil).Run(t.Context(), "acme", "b", time.Hour)
			if err != nil || !run.Finished() {
				t.Fatalf("resumed run: %+v, %v", run, err)
			}
			checkPackages(t, run, reqs, blobs)
		})
	}
}

func TestRunStripsClosedRequestsPastTheirKeepingPeriod(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.Regimes = []string{privacy.RegimeCCPA} // 11 CCR §7101: keep the DSR log 24 months
		// Saved at 400 days before the tenant answered under the CCPA: the
		// floor still keeps what is younger than 24 months.
		t.RetentionPolicies = []Policy{{ID: "closed", Category: CategoryDSRRecords, Scope: ScopeSuite, MaxAgeDays: 400,
			From: FromRequestClosed, Action: ActionDelete}}
		t.Holds = append(t.Holds, privacy.Hold{ID: "h9", Scope: privacy.HoldSubject, SubjectHash: "held-subject", Reason: "court order"})
	})
	reqs := &fakeRequests{docs: map[string][]byte{}, tags: map[string]int{}}
	add := func(id string, status privacy.Status, ageDays int, hash string, stripped bool) {
		r := &privacy.Request{ID: id, TenantID: "acme", Status: status, SubjectHash: hash, Details: "call me on +49 30 1234",
			Subject: privacy.Subject{Email: id + "@example.com", Country: "US", Region: "CA"},
			Changes: []privacy.FieldChange{{Field: "name", Value: "Sam"}}, UpdatedAt: sweepNow.AddDate(0, 0, -ageDays)}
		if stripped {
			r.StrippedAt = sweepNow.AddDate(0, 0, -1)
		}
		reqs.add(r)
	}
	add("c1", privacy.StatusCompleted, 800, "s1", false)
	add("c2", privacy.StatusDenied, 900, "held-subject", false)
	add("c3", privacy.StatusCompleted, 100, "s3", false)
	add("c4", privacy.StatusAwaitingDecision, 1000, "s4", false)
	add("c5", privacy.StatusCancelled, 1000, "s5", true)
	add("c6", privacy.StatusPartiallyCompleted, 500, "s6", false)
	s := f.packagesSweeper(t, reqs, &fakeBlobs{}, nil)
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil || !run.Finished() {
		t.Fatalf("run: %+v, %v", run, err)
	}
	if diff := cmp.Diff([]counts{{"closed", "done", 3, 1, 1, 1, 0}}, countsOf(run.Policies)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	c1 := reqs.get("c1")
	if c1.Subject != (privacy.Subject{}) || c1.Details != "" || c1.Changes[0].Value != "" || c1.StrippedAt.IsZero() ||
		c1.SubjectHash != "s1" || c1.Status != privacy.StatusCompleted {
		t.Errorf("c1 after the sweep: %+v", c1)
	}
	for _, id := range []string{"c2", "c3", "c4", "c6"} {
		if r := reqs.get(id); r.Subject.Email == "" || !r.StrippedAt.IsZero() {
			t.Errorf("%s was stripped: %+v", id, r)
		}
	}
}
