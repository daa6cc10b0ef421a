package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// The writer's cache of audit chain heads (headCache) must leave every chain
// exactly as reading the head each time did: consecutive, correctly chained,
// whatever failed, who else wrote and what was purged. Each case appends
// through the store, breaks the cache's assumptions one way, appends again
// and verifies the whole chain as README "Verifying the audit chain
// yourself" does (VerifyChain from the start).
func TestAuditHeadCacheKeepsTheChain(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	event := func(tenant, id string) *privacy.AuditEvent {
		return &privacy.AuditEvent{TenantID: tenant, ID: id, At: at, Actor: "test", Action: "request.created", Target: "request/r-" + id}
	}
	appendN := func(tb testing.TB, s *Store, tenant, prefix string, n int) {
		tb.Helper()
		for i := range n {
			if err := s.AppendAudit(tb.Context(), event(tenant, fmt.Sprintf("%s-%d", prefix, i))); err != nil {
				tb.Fatal(err)
			}
		}
	}
	errJob := errors.New("job fails after appending")
	tests := []struct {
		name string
		// disturb runs between two series of appends to tenant "t1"; it
		// returns the store to append with next.
		disturb func(tb testing.TB, db *DB, path string) *Store
		want    int // events in t1's chain at the end
	}{
		{"a lone write fails after appending", func(tb testing.TB, db *DB, _ string) *Store {
			err := db.write(tb.Context(), func(tx *sql.Tx) error {
				if _, err := appendAudit(tb.Context(), tx, db.st, db.heads, event("t1", "lost")); err != nil {
					return err
				}
				return errJob
			})
			if !errors.Is(err, errJob) {
				tb.Fatalf("write: %v, want the job's error", err)
			}
			return db.Store()
		}, 6},
		{"a job fails after appending in a batch that commits", func(tb testing.TB, db *DB, _ string) *Store {
			ctx := tb.Context()
			release, busy := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { _ = db.write(ctx, func(*sql.Tx) error { close(busy); <-release; return nil }) })
			<-busy
			errs := make([]error, 3)
			for i, id := range []string{"kept-1", "lost", "kept-2"} {
				wg.Go(func() {
					errs[i] = db.write(ctx, func(tx *sql.Tx) error {
						if _, err := appendAudit(ctx, tx, db.st, db.heads, event("t1", id)); err != nil {
							return err
						}
						if id == "lost" {
							return errJob
						}
						return nil
					})
				})
				waitUntil(tb, func() bool { return len(db.wr.jobs) == i+1 }) // queued in this order: one batch
			}
			close(release)
			wg.Wait()
			if diff := cmp.Diff([]string{"<nil>", errJob.Error(), "<nil>"}, []string{fmt.Sprint(errs[0]), fmt.Sprint(errs[1]), fmt.Sprint(errs[2])}); diff != "" {
				tb.Fatalf("batch results (-want +got):\n%s", diff)
			}
			return db.Store()
		}, 8},
		{"another connection appends", func(tb testing.TB, db *DB, path string) *Store {
			other, err := Open(tb.Context(), path, Options{})
			if err != nil {
				tb.Fatal(err)
			}
			defer other.Close()
			appendN(tb, other.Store(), "t1", "other", 2)
			return db.Store()
		}, 8},
		{"the chain is purged", func(tb testing.TB, db *DB, _ string) *Store {
			for {
				n, err := db.Store().PurgeTenantData(tb.Context(), "t1", privacy.DataKindAudit, 2)
				if err != nil {
					tb.Fatal(err)
				}
				if n == 0 {
					return db.Store()
				}
			}
		}, 3},
		{"the process restarts", func(tb testing.TB, db *DB, path string) *Store {
			if err := db.Close(); err != nil {
				tb.Fatal(err)
			}
			again, err := Open(tb.Context(), path, Options{})
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { again.Close() })
			return again.Store()
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "privops.db")
			db, err := Open(t.Context(), path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() }) // a second Close (after a restart) is harmless
			appendN(t, db.Store(), "t1", "before", 3)
			appendN(t, db.Store(), "t2", "before", 2) // another tenant's chain, cached beside
			s := tt.disturb(t, db, path)
			appendN(t, s, "t1", "after", 3)
			appendN(t, s, "t2", "after", 1)
			for tenant, want := range map[string]int{"t1": tt.want, "t2": 3} {
				chain, err := s.ListAudit(t.Context(), tenant, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(chain) != want {
					t.Errorf("%s: %d events, want %d", tenant, len(chain), want)
				}
				if brk := privacy.VerifyChain(0, "", chain); brk != nil {
					t.Errorf("%s: chain broken at %d: %s", tenant, brk.Seq, brk.Reason)
				}
			}
		})
	}
}

// An append of an event id already in the chain appends nothing and returns
// the stored event, whether the head is cached or not.
func TestAuditHeadCacheRepeatAppendsNothing(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	s, ctx := db.Store(), t.Context()
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	first := &privacy.AuditEvent{TenantID: "t1", ID: "e1", At: at, Actor: "test", Action: "request.created"}
	if err := s.AppendAudit(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, cached := range []bool{true, false} {
		if !cached {
			if err := db.write(ctx, func(*sql.Tx) error { db.heads.reset(); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		again := &privacy.AuditEvent{TenantID: "t1", ID: "e1", At: at.Add(time.Hour), Actor: "other", Action: "request.created"}
		if err := s.AppendAudit(ctx, again); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(*first, *again); diff != "" {
			t.Errorf("cached %v: repeat returned (-stored +got):\n%s", cached, diff)
		}
	}
	if got, err := s.ListAudit(ctx, "t1", 0, 10); err != nil || len(got) != 1 {
		t.Errorf("%d events (%v), want 1", len(got), err)
	}
}
