package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/auth"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/sqlite"
)

// TestBreachRecordsSweptThroughTheApp: the app wires the breach-records
// sweep (notices of the store, campaigns of the fan-out's store). A policy
// counts from the incident's closing (from "created" is refused); an
// incident declared and closed is kept while its age is under the policy and
// the 5-year floors; six years later the sweep strips the tenant's notice
// (no delivery address left), leaves the operator's incident and the other
// tenant's notice as they were, and reports it purged.
func TestBreachRecordsSweptThroughTheApp(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "privops.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ta := newTestAppWith(t, func(ad *adapters) { ad.now = clock; ad.breachStore = db.BreachSend() })
	ctx := context.Background()
	ta.breachContacts(t)
	admin := ta.token(t, "acme", auth.RoleAdmin, time.Hour, devKey)
	r := ta.do(t, call{method: "PUT", path: "/api/admin/acme/retention/policies/breaches", header: bearer(admin),
		body: `{"category":"breach-records","scope":"suite","maxAgeDays":1827,"from":"created","action":"delete"}`})
	if r.status != http.StatusUnprocessableEntity || r.code != "invalid-retention-policy" {
		t.Fatalf("a breach-records policy from created: %d %v", r.status, r.body)
	}
	r = ta.do(t, call{method: "PUT", path: "/api/admin/acme/retention/policies/breaches", header: bearer(admin),
		body: `{"category":"breach-records","scope":"suite","maxAgeDays":1827,"from":"incident-closed","action":"delete"}`})
	if r.status != http.StatusCreated {
		t.Fatalf("put policy: %d %v", r.status, r.body)
	}
	var d breach.Declaration
	if err := json.Unmarshal([]byte(incidentJSON(`,"tenants":["acme","globex"]`)), &d); err != nil {
		t.Fatal(err)
	}
	in, _, err := ta.breach.Declare(ctx, d, breach.Origin{Actor: "operator:sec"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ta.breach.AddReport(ctx, in.ID, breach.ReportInput{Summary: "closed", Facts: in.Facts, Status: breach.StatusClosed}, "operator:sec"); err != nil {
		t.Fatal(err)
	}
	bs := ta.store // the in-memory store holds the incidents and notices
	before, err := bs.GetIncident(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := bs.GetNotice(ctx, "globex", in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mine, err := bs.GetNotice(ctx, "acme", in.ID); err != nil || len(mine.Deliveries) == 0 || mine.Deliveries[0].To == "" {
		t.Fatalf("acme's notice before the sweep: %+v, %v; want a delivery to its contact", mine, err)
	}

	sweep := func(at time.Time) (status string, purged int64) {
		t.Helper()
		mu.Lock()
		now = at
		mu.Unlock()
		run, err := ta.sweeper.Run(ctx, "acme", fmt.Sprintf("test-%d", at.Unix()), time.Minute)
		if err != nil || !run.Finished() {
			t.Fatalf("run: %+v, %v", run, err)
		}
		return run.Policies[0].Status, run.Policies[0].Purged
	}
	if st, n := sweep(now.AddDate(1, 0, 0)); st != "done" || n != 0 {
		t.Fatalf("a year after the closing: %s, %d purged; want done, 0", st, n)
	}
	if n, _ := bs.GetNotice(ctx, "acme", in.ID); !n.StrippedAt.IsZero() {
		t.Fatal("stripped a year after the closing")
	}
	if st, n := sweep(now.AddDate(6, 0, 0)); st != "done" || n != 1 {
		t.Fatalf("six years after the closing: %s, %d purged; want done, 1", st, n)
	}
	n, err := bs.GetNotice(ctx, "acme", in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n.StrippedAt.IsZero() || n.Facts.Title == "" || len(n.Reports) != 2 {
		t.Errorf("notice after the sweep: strippedAt %v, title %q, %d reports; want stripped with its documentation", n.StrippedAt, n.Facts.Title, len(n.Reports))
	}
	for _, dl := range n.Deliveries {
		if dl.To != "" {
			t.Errorf("a delivery still names %q", dl.To)
		}
	}
	if after, err := bs.GetIncident(ctx, in.ID); err != nil || after.ETag != before.ETag {
		t.Errorf("the operator's incident was written by a tenant's policy: %v", err)
	}
	if after, err := bs.GetNotice(ctx, "globex", in.ID); err != nil || after.ETag != theirs.ETag || !after.StrippedAt.IsZero() {
		t.Errorf("another tenant's notice was written: %v", err)
	}
}
