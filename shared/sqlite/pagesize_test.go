package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// A new file gets dbPageSize pages, so a request's document stays in its
// b-tree page; a file created with SQLite's default keeps it and opens as
// before (the size cannot change once a file has tables).
func TestPageSize(t *testing.T) {
	t.Parallel()
	pageSizeOf := func(tb testing.TB, path string) int {
		tb.Helper()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			tb.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("PRAGMA page_size").Scan(&n); err != nil {
			tb.Fatal(err)
		}
		return n
	}
	t.Run("new file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "new.db")
		db, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if got := pageSizeOf(t, path); got != dbPageSize {
			t.Errorf("page_size = %d, want %d", got, dbPageSize)
		}
	})
	t.Run("existing 4 KiB file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "old.db")
		old, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec("PRAGMA page_size = 4096; CREATE TABLE scratch (id INTEGER PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		old.Close()
		db, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := benchRequest("acme", "req-1", time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC))
		if err := db.Store().CreateRequest(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if got := pageSizeOf(t, path); got != 4096 {
			t.Errorf("page_size = %d, want the file's 4096", got)
		}
	})
}

// UpdateRequest sets only the indexed columns that change; the columns must
// still follow the document through every kind of change.
func TestUpdateRequestKeepsIndexedColumns(t *testing.T) {
	t.Parallel()
	s := openTest(t, Options{}).Store()
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	r := benchRequest("acme", "req-1", at)
	if err := s.CreateRequest(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	type cols struct {
		Status, Type string
		Created      int64
		Due, Outbox  sql.NullInt64
	}
	read := func() cols {
		t.Helper()
		var c cols
		if err := s.db.r.QueryRowContext(t.Context(), `SELECT status, type, created_at, open_due_at, outbox_at
			FROM requests WHERE tenant_id = ? AND id = ?`, r.TenantID, r.ID).Scan(&c.Status, &c.Type, &c.Created, &c.Due, &c.Outbox); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, step := range []struct {
		name   string
		change func(r *privacy.Request)
	}{
		{"outbox cleared", func(r *privacy.Request) { r.Outbox = nil }},
		{"nothing indexed", func(r *privacy.Request) { r.Details = "note" }},
		{"status", func(r *privacy.Request) { r.Status = privacy.StatusAwaitingDecision }},
		{"due moved", func(r *privacy.Request) { r.Due.At = r.Due.At.AddDate(0, 2, 0) }},
		{"outbox again", func(r *privacy.Request) { r.Outbox = []privacy.OutboxEvent{{ID: "evt-2", At: at.Add(time.Hour)}} }},
		{"terminal", func(r *privacy.Request) { r.Status, r.Outbox = privacy.StatusCompleted, nil }},
	} {
		step.change(r)
		if err := s.UpdateRequest(t.Context(), r); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		status, typ, created, due, outbox := requestColumns(r)
		if diff := cmp.Diff(cols{status, typ, created, due, outbox}, read()); diff != "" {
			t.Errorf("%s: indexed columns (-want +got):\n%s", step.name, diff)
		}
	}
}

// The writer keeps its temporary files (the statement journal of each
// batched job's savepoint) in memory: temp_store 2 (MEMORY).
func TestWriterTempStoreInMemory(t *testing.T) {
	t.Parallel()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got int
	if err := db.write(t.Context(), func(tx *sql.Tx) error {
		return tx.QueryRow("PRAGMA temp_store").Scan(&got)
	}); err != nil {
		t.Fatal(err)
	}
	if got != 2 {
		t.Errorf("temp_store = %d, want 2 (memory)", got)
	}
}
