package retention

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// TestRunRemovesExpiredVerificationCodes: a verification-codes policy drops
// the keyed hash of codes expired past it (the request stays), keeps a code
// still valid or too young, and a subject hold keeps its subject's code; no
// tombstone (a code's hash is not the subject's data).
func TestRunRemovesExpiredVerificationCodes(t *testing.T) {
	t.Parallel()
	f := newSweepFixture(t)
	f.tenants.change("acme", func(t *privacy.Tenant) {
		t.Holds = []privacy.Hold{{ID: "h", Scope: privacy.HoldSubject, SubjectHash: "held"}}
		t.RetentionPolicies = []Policy{{ID: "codes", Category: CategoryVerificationCodes, Scope: ScopeSuite, MaxAgeDays: 7, From: FromCreated, Action: ActionDelete}}
	})
	reqs := &fakeRequests{docs: map[string][]byte{}, tags: map[string]int{}}
	code := func(id string, expired time.Duration, subject string) {
		reqs.add(&privacy.Request{ID: id, TenantID: "acme", Status: privacy.StatusAwaitingVerification, SubjectHash: subject,
			Subject:      privacy.Subject{Email: id + "@example.com"},
			Verification: privacy.Verification{CodeHash: "2:hash-" + id, ExpiresAt: sweepNow.Add(-expired), Sends: 1}})
	}
	code("c1", 30*24*time.Hour, "s1")   // expired a month ago: removed
	code("c2", 24*time.Hour, "s2")      // expired yesterday: younger than 7 days
	code("c3", -10*time.Minute, "s3")   // still valid
	code("c4", 30*24*time.Hour, "held") // held
	code("c5", 8*24*time.Hour, "s5")    // removed
	s := f.packagesSweeper(t, reqs, &fakeBlobs{}, nil)
	run, err := s.Run(t.Context(), "acme", "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]counts{{"codes", "done", 3, 2, 1, 0, 0}}, countsOf(run.Policies)); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	var left []string
	for _, id := range reqs.list {
		r := reqs.get(id)
		if r.Verification.CodeHash != "" {
			left = append(left, id)
		}
		if r.Subject.Email == "" || r.Verification.ExpiresAt.IsZero() {
			t.Errorf("request %s lost more than its code's hash: %+v", id, r)
		}
	}
	if diff := cmp.Diff([]string{"c2", "c3", "c4"}, left); diff != "" {
		t.Errorf("codes left (-want +got):\n%s", diff)
	}
	if n := len(f.audited(ActionSubjectsPurged)); n != 0 {
		t.Errorf("%d tombstones for codes", n)
	}
}

// fakeInbound is an inbound ledger of rejected records, newest first.
type fakeInbound struct {
	mu   sync.Mutex
	recs []*privacy.InboundRecord
}

func (f *fakeInbound) ListInbound(_ context.Context, tenantID string, fl privacy.InboundFilter) (privacy.InboundPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := 0
	if fl.Cursor != "" {
		start, _ = strconv.Atoi(fl.Cursor)
	}
	var page privacy.InboundPage
	i := start
	for ; i < len(f.recs) && len(page.Records) < fl.Limit; i++ {
		r := *f.recs[i]
		if r.TenantID == tenantID && (fl.Status == "" || r.Status == fl.Status) {
			page.Records = append(page.Records, &r)
		}
	}
	if i < len(f.recs) {
		page.Next = strconv.Itoa(i)
	}
	return page, nil
}

func (f *fakeInbound) GetInbound(_ context.Context, tenantID, id string) (*privacy.InboundRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.recs {
		if r.TenantID == tenantID && r.ID == id {
			c := *r
			return &c, nil
		}
	}
	return nil, privacy.ErrNotFound
}

func (f *fakeInbound) UpdateInbound(_ context.Context, r *privacy.InboundRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.recs {
		if x.TenantID == r.TenantID && x.ID == r.ID {
			if x.ETag != r.ETag {
				return privacy.ErrConflict
			}
			c := *r
			c.ETag = r.ETag + "'"
			f.recs[i] = &c
			r.ETag = c.ETag
			return nil
		}
	}
	return privacy.ErrNotFound
}

// TestRunRemovesRejectedInboundBodies: a rejected-inbound policy removes the
// bodies of rejected messages older than it (the record stays with its code),
// keeps younger ones and other tenants', and while any subject hold is active
// removes none.
func TestRunRemovesRejectedInboundBodies(t *testing.T) {
	t.Parallel()
	for _, held := range []bool{false, true} {
		t.Run(fmt.Sprint("subject hold ", held), func(t *testing.T) {
			t.Parallel()
			f := newSweepFixture(t)
			f.tenants.change("acme", func(t *privacy.Tenant) {
				t.Holds = nil
				if held {
					t.Holds = []privacy.Hold{{ID: "h", Scope: privacy.HoldSubject, SubjectHash: "x"}}
				}
				t.RetentionPolicies = []Policy{{ID: "bodies", Category: CategoryRejectedInbound, Scope: ScopeSuite, MaxAgeDays: 3, From: FromCreated, Action: ActionDelete}}
			})
			in := &fakeInbound{}
			for i, age := range []int{1, 5, 10, 2, 4} {
				in.recs = append(in.recs, &privacy.InboundRecord{TenantID: "acme", ID: fmt.Sprintf("rj-%d", i), Status: privacy.InboundRejected,
					Code: "schema", Body: []byte(`{"subject":{"email":"ada@example.com"}}`), Properties: map[string]string{"privops-signature": "t=1"},
					ReceivedAt: sweepNow.AddDate(0, 0, -age), ETag: "e"})
			}
			in.recs = append(in.recs, &privacy.InboundRecord{TenantID: "globex", ID: "rj-g", Status: privacy.InboundRejected,
				Body: []byte("x"), ReceivedAt: sweepNow.AddDate(0, 0, -10), ETag: "e"})
			s := f.sweeper(t, nil)
			s.d.Inbound = in
			s.cfg.PageSize = 2
			run, err := s.Run(t.Context(), "acme", "a", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			want, stripped := counts{"bodies", "done", 3, 3, 0, 0, 0}, []string{"rj-1", "rj-2", "rj-4"}
			if held {
				want, stripped = counts{"bodies", "done", 3, 0, 3, 0, 0}, nil
			}
			if diff := cmp.Diff([]counts{want}, countsOf(run.Policies)); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			var got []string
			for _, r := range in.recs {
				if len(r.Body) == 0 {
					got = append(got, r.ID)
					if r.Properties != nil || r.Code != "schema" || r.Status != privacy.InboundRejected {
						t.Errorf("stripped record %+v", r)
					}
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(stripped, got); diff != "" {
				t.Errorf("bodies removed (-want +got):\n%s", diff)
			}
		})
	}
}
