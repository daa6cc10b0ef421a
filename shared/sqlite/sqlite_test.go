package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/queuetest"
	"github.com/privops/privops/shared/storetest"
)

// openTest opens a database in a fresh temporary directory, closed at cleanup.
func openTest(tb testing.TB, opts Options) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), filepath.Join(tb.TempDir(), "data", "privops.db"), opts)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(tb testing.TB) privacy.Store { return openTest(tb, Options{}).Store() })
}

func TestDataItemsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunItems(t, openTest(t, Options{}).Store())
}

func TestExpiringItemsConformance(t *testing.T) {
	t.Parallel()
	storetest.RunExpiringItems(t, openTest(t, Options{}).Store())
	storetest.RunStorageOnlyItems(t, openTest(t, Options{}).Store())
}

func TestInbound(t *testing.T) {
	t.Parallel()
	storetest.RunInbound(t, func(tb testing.TB) privacy.InboundLog { return openTest(tb, Options{}).Store() })
}

func TestQueue(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(tb testing.TB, now func() time.Time) queuetest.Queue {
		db := openTest(tb, Options{Now: now, QueueMaxDeliveries: queuetest.MaxDeliveries,
			DedupeWindow: queuetest.DedupeWindow, Synchronous: "normal"})
		return suiteQueue{db.Queue()}
	})
}

// suiteQueue gives the queue the suite's dead-letter view.
type suiteQueue struct{ *Queue }

func (q suiteQueue) DeadLetters(ctx context.Context, queue string, limit int) ([]queuetest.DeadLetter, error) {
	dls, err := q.Queue.DeadLetters(ctx, queue, limit)
	out := make([]queuetest.DeadLetter, 0, len(dls))
	for _, d := range dls {
		out = append(out, queuetest.DeadLetter{ID: d.ID, Body: d.Body, DeliveryCount: d.DeliveryCount,
			EnqueuedAt: d.EnqueuedAt, DeadAt: d.DeadAt, Reason: d.Reason, ContentType: d.ContentType, Properties: d.Properties})
	}
	return out, err
}

func TestOpenMigratesOnceAndKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "privops.db")
	db, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	r := &privacy.Request{ID: "req-1", TenantID: "acme", Type: privacy.TypeAccess, Status: privacy.StatusApproved}
	if err := db.Store().CreateRequest(t.Context(), r); err != nil {
		t.Fatalf("create request: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode: %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	db, err = Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if _, err := db.Store().GetRequest(t.Context(), "acme", "req-1"); err != nil {
		t.Fatalf("request after reopen: %v", err)
	}
	var versions int
	var mode string
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	if err := db.r.QueryRow("SELECT COUNT(*) FROM schema_version").Scan(&versions); err != nil || versions != len(names) {
		t.Fatalf("schema_version rows: %d, %v; want one per migration, %d", versions, err, len(names))
	}
	if err := db.r.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		path string
		opts Options
	}{
		"synchronous off": {filepath.Join(dir, "a.db"), Options{Synchronous: "off"}},
		"empty path":      {"", Options{}},
		"uri":             {"file:" + filepath.Join(dir, "b.db"), Options{}},
	} {
		if db, err := Open(t.Context(), tc.path, tc.opts); err == nil {
			db.Close()
			t.Errorf("%s: opened", name)
		}
	}
}

// TestStartIsOpenInTheBackground: Start returns a DB that Ready makes usable,
// on a new file and on an existing one (where the first read connection
// starts beside the writer's); a file Open refuses (a schema newer than the
// binary's) makes Ready return the refusal, and Close then returns at once.
func TestStartIsOpenInTheBackground(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "privops.db")
	for _, round := range []string{"new file", "existing file"} {
		db := Start(t.Context(), path, Options{})
		if err := db.Ready(); err != nil {
			t.Fatalf("%s: Ready: %v", round, err)
		}
		r := &privacy.Request{ID: "req-" + strings.ReplaceAll(round, " ", "-"), TenantID: "acme", Type: privacy.TypeAccess, Status: privacy.StatusApproved}
		if err := db.Store().CreateRequest(t.Context(), r); err != nil {
			t.Fatalf("%s: create request: %v", round, err)
		}
		if _, err := db.Store().GetRequest(t.Context(), "acme", r.ID); err != nil {
			t.Fatalf("%s: read it back: %v", round, err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("%s: close: %v", round, err)
		}
	}

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("INSERT INTO schema_version (version, name, applied_at) VALUES (9999, '9999_future.sql', 'x')"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	for _, open := range []struct {
		name string
		f    func() (*DB, error)
	}{
		{"Start", func() (*DB, error) { db := Start(t.Context(), path, Options{}); return db, db.Ready() }},
		{"Open", func() (*DB, error) { return Open(t.Context(), path, Options{}) }},
	} {
		db, err := open.f()
		if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
			t.Errorf("%s of a newer schema: %v, want the refusal", open.name, err)
		}
		if db != nil {
			done := make(chan error, 1)
			go func() { done <- db.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: Close after the refusal: %v", open.name, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: Close after the refusal did not return", open.name)
			}
		}
	}
}

// TestBusyIsUnavailable holds the write lock from another connection: writes
// fail after the busy timeout with privacy.ErrUnavailable and name the operation.
func TestBusyIsUnavailable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "privops.db")
	db, err := Open(t.Context(), path, Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("open second handle: %v", err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	err = db.Store().CreateTenant(t.Context(), &privacy.Tenant{ID: "acme"})
	if !errors.Is(err, privacy.ErrUnavailable) || !strings.Contains(err.Error(), "create tenant acme") {
		t.Fatalf("create tenant while locked: %v; want ErrUnavailable naming the operation", err)
	}
	err = db.Queue().Publish(t.Context(), "work", privacy.OutMessage{ID: "m1"})
	if !errors.Is(err, privacy.ErrUnavailable) {
		t.Fatalf("publish while locked: %v; want ErrUnavailable", err)
	}
	// Reads go on: WAL readers do not wait for the writer.
	if _, err := db.Store().ListTenants(t.Context()); err != nil {
		t.Fatalf("list tenants while locked: %v", err)
	}
}

func TestRequeueAndCounts(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	db := openTest(t, Options{Now: func() time.Time { return now }, QueueMaxDeliveries: 1})
	q, ctx := db.Queue(), t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(q.Publish(ctx, "work", privacy.OutMessage{ID: "a"}, privacy.OutMessage{ID: "b"}, privacy.OutMessage{ID: "c"},
		privacy.OutMessage{ID: "later", NotBefore: now.Add(time.Hour)}))
	for range 3 {
		d, err := q.Receive(ctx, "work", time.Minute)
		must(err)
		must(q.Retry(ctx, d, 0))
	}
	d, err := q.Receive(ctx, "work", time.Minute) // a, b and c are dead-lettered; nothing left to deliver
	if err != nil || d != nil {
		t.Fatalf("receive: %v, %v; want nothing", d, err)
	}
	c, err := q.Counts(ctx, "work")
	must(err)
	if c != (Counts{Delayed: 1, Dead: 3}) {
		t.Fatalf("counts %+v", c)
	}
	n, err := q.Requeue(ctx, "work", "b", "missing")
	must(err)
	if n != 1 {
		t.Fatalf("requeued %d, want 1", n)
	}
	d, err = q.Receive(ctx, "work", time.Minute)
	must(err)
	if d == nil || d.ID != "b" || d.DeliveryCount != 1 {
		t.Fatalf("after requeue delivered %+v, want b (delivery 1)", d)
	}
	c, err = q.Counts(ctx, "work")
	must(err)
	if c != (Counts{Leased: 1, Delayed: 1, Dead: 2}) {
		t.Fatalf("counts %+v", c)
	}
	n, err = q.Requeue(ctx, "work")
	must(err)
	if n != 2 {
		t.Fatalf("requeued all: %d, want 2", n)
	}
}

// TestInboundPurgesExpired: an expired inbound row, body and all, is deleted
// by the next create, not only hidden; an unexpired one stays.
func TestInboundPurgesExpired(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	db := openTest(t, Options{Now: clock})
	s, ctx := db.Store(), t.Context()
	rows := func() []string {
		t.Helper()
		rs, err := db.r.QueryContext(ctx, "SELECT tenant_id || '/' || id FROM inbound ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var k string
			if err := rs.Scan(&k); err != nil {
				t.Fatal(err)
			}
			out = append(out, k)
		}
		return out
	}
	for _, r := range []*privacy.InboundRecord{
		{TenantID: "acme", ID: "rj-1", Status: privacy.InboundRejected, Body: []byte("personal"), ExpiresAt: now.Add(time.Hour)},
		{TenantID: "other", ID: "rj-2", Status: privacy.InboundRejected, Body: []byte("personal"), ExpiresAt: now.Add(3 * time.Hour)},
		{TenantID: "acme", ID: "ce-1", Status: privacy.InboundAccepted},
	} {
		if err := s.CreateInbound(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if _, err := s.GetInbound(ctx, "acme", "rj-1"); !errors.Is(err, privacy.ErrNotFound) {
		t.Fatalf("get an expired record: %v, want ErrNotFound", err)
	}
	if err := s.CreateInbound(ctx, &privacy.InboundRecord{TenantID: "acme", ID: "ce-2", Status: privacy.InboundAccepted}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rows(), " "), "acme/ce-1 acme/ce-2 other/rj-2"; got != want {
		t.Fatalf("rows after the purge: %s, want %s", got, want)
	}
}

func TestBreachStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.RunBreach(t, func(tb testing.TB) breach.Store { return openTest(tb, Options{}).Store() })
}

// TestBreachSendStoreConformance runs the breach fan-out store's suite.
func TestBreachSendStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.RunBreachSend(t, func(tb testing.TB) breachsend.Store { return openTest(tb, Options{}).BreachSend() })
}

func TestTenantDataConformance(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	storetest.RunTenantData(t, db.Store())
	storetest.RunTenantMessages(t, db.Queue())
	storetest.RunTenantSubjects(t, db.BreachSend())
}
