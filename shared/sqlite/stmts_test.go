package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// The writer's prepared statements (stmts.go) must do what the unprepared
// ones did whatever happens to the writer's connection in between: each case
// runs every prepared statement once, disturbs the statements' assumptions one
// way, runs them all again, and checks what the store then holds.
func TestWriterStmtsAcrossConnectionsAndSchemaChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		disturb func(tb testing.TB, db *DB)
	}{
		{"nothing happens in between", func(testing.TB, *DB) {}},
		{"the writer's connection is closed and a new one opened", func(tb testing.TB, db *DB) {
			// No idle connection kept: database/sql closes the writer's
			// connection (and its statement handles); the next write opens a
			// new one, on which tx.StmtContext must prepare them again.
			db.w.SetMaxIdleConns(0)
			db.w.SetMaxIdleConns(1)
			if n := db.w.Stats().OpenConnections; n != 0 {
				tb.Fatalf("%d writer connections still open, want 0", n)
			}
		}},
		{"the schema changes under the prepared statements", func(tb testing.TB, db *DB) {
			// SQLite re-prepares a statement whose schema changed; a stale one
			// would fail with SQLITE_SCHEMA or write to the old layout.
			if err := db.write(tb.Context(), func(tx *sql.Tx) error {
				_, err := tx.ExecContext(tb.Context(), "CREATE INDEX test_requests_status ON requests (tenant_id, status, id)")
				return err
			}); err != nil {
				tb.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t, Options{})
			exerciseWriterStmts(t, db, "a")
			tt.disturb(t, db)
			exerciseWriterStmts(t, db, "b")
			audit, err := db.Store().ListAudit(t.Context(), "acme", 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(audit) != 4 {
				t.Fatalf("%d audit events, want 4", len(audit))
			}
			if brk := privacy.VerifyChain(0, "", audit); brk != nil {
				t.Fatalf("audit chain broken: %+v", brk)
			}
		})
	}
}

// exerciseWriterStmts runs each of the writer's prepared statements at least
// once (prefix keeps ids apart between calls) and checks the outcome.
func exerciseWriterStmts(tb testing.TB, db *DB, prefix string) {
	tb.Helper()
	ctx := tb.Context()
	s := db.Store()
	at := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	id := "req-" + prefix
	r := benchRequest("acme", id, at)
	created := &privacy.AuditEvent{ID: "aud-" + id, TenantID: "acme", At: at, Actor: "subject", Action: "request.submitted", Target: "request/" + id}
	mail := privacy.SpooledMail{ID: "mail-" + id, TenantID: "acme", CreatedAt: at, Sealed: []byte("sealed " + prefix)}
	// stmtInsertRequest, stmtSpoolMail, stmtDataVersion, stmtInsertAudit
	if err := s.CreateRequestWithMail(ctx, r, []*privacy.AuditEvent{created}, []privacy.SpooledMail{mail}); err != nil {
		tb.Fatal(err)
	}
	// stmtRequestForUpdate (and the audit insert again)
	r.Status = privacy.StatusApproved
	verified := &privacy.AuditEvent{ID: "aud-v-" + id, TenantID: "acme", At: at, Actor: "subject", Action: "request.verified", Target: "request/" + id}
	if err := s.UpdateRequestWithAudit(ctx, r, []*privacy.AuditEvent{verified}); err != nil {
		tb.Fatal(err)
	}
	stale := *r
	stale.ETag = "stale"
	if err := s.UpdateRequestWithAudit(ctx, &stale, nil); !errors.Is(err, privacy.ErrConflict) {
		tb.Fatalf("update with a stale etag: %v, want a conflict", err)
	}
	got, err := s.GetRequest(ctx, "acme", id)
	if err != nil {
		tb.Fatal(err)
	}
	if got.Status != privacy.StatusApproved || got.ETag != r.ETag {
		tb.Fatalf("stored request: status %s etag %s, want %s %s", got.Status, got.ETag, privacy.StatusApproved, r.ETag)
	}
	mails, err := s.SpooledMails(ctx, at.Add(time.Second), 100)
	if err != nil {
		tb.Fatal(err)
	}
	if !containsMail(mails, mail) {
		tb.Fatalf("spooled mails %v lack %s", mailIDs(mails), mail.ID)
	}
	// stmtDedupeExpire, stmtDedupeInsert, stmtInsertMessage, stmtNextMessage, stmtLeaseMessage
	q := db.Queue()
	queue := "q-" + prefix
	msg := privacy.OutMessage{ID: "m-" + prefix, Body: []byte("body " + prefix)}
	if err := q.Publish(ctx, queue, msg, msg); err != nil { // the second is a duplicate
		tb.Fatal(err)
	}
	d, err := q.Receive(ctx, queue, time.Minute)
	if err != nil || d == nil {
		tb.Fatalf("receive: %v, %v", d, err)
	}
	if diff := cmp.Diff(fmt.Sprintf("%s %s %d", msg.ID, msg.Body, 1), fmt.Sprintf("%s %s %d", d.ID, d.Body, d.DeliveryCount)); diff != "" {
		tb.Fatalf("delivery (-want +got):\n%s", diff)
	}
	if d, err := q.Receive(ctx, queue, time.Minute); err != nil || d != nil {
		tb.Fatalf("second receive: %v, %v; want nothing (leased, and the duplicate was dropped)", d, err)
	}
}

func containsMail(ms []privacy.SpooledMail, want privacy.SpooledMail) bool {
	for _, m := range ms {
		if m.ID == want.ID && string(m.Sealed) == string(want.Sealed) {
			return true
		}
	}
	return false
}

func mailIDs(ms []privacy.SpooledMail) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

// After Close the prepared statements are closed with the connection, and a
// write fails instead of using them.
func TestCloseClosesWriterStmts(t *testing.T) {
	t.Parallel()
	db, err := Open(t.Context(), t.TempDir()+"/privops.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	exerciseWriterStmts(t, db, "a")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for id, s := range db.st.s {
		if s != nil {
			t.Errorf("statement %d not closed", id)
		}
	}
	r := benchRequest("acme", "req-after", time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC))
	if err := db.Store().CreateRequestWithMail(t.Context(), r, nil, nil); err == nil {
		t.Fatal("write after Close succeeded")
	}
}
