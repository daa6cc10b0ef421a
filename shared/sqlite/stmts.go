package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The writer's hot statements, prepared once. modernc.org/sqlite (from
// v1.62.0) keeps a prepared statement's SQLite handle and resets it after each
// use, where an ad-hoc ExecContext prepares and finalizes its statement every
// time (sqlite3_prepare_v2 was 17 % of BenchmarkSubmissionWrite's CPU). Each
// statement is a *sql.Stmt prepared on the writer's handle (db.w) at Open;
// inside a writer transaction tx.StmtContext finds the driver statement
// database/sql keeps for the transaction's connection and reuses it, or
// prepares it on that connection first (a replaced connection gets its own).
// They cannot be prepared lazily inside a job: db.w has one connection, held by
// the open transaction, so db.w.PrepareContext would wait for it forever.
// SQLite re-prepares a handle itself when the schema changed (SQLITE_SCHEMA).
// Close closes them before the connection.

// stmtID names one of the writer's prepared statements.
type stmtID int

const (
	stmtInsertRequest stmtID = iota
	stmtRequestForUpdate
	stmtSpoolMail
	stmtInsertAudit
	stmtDataVersion
	stmtDedupeExpire
	stmtDedupeInsert
	stmtInsertMessage
	stmtNextMessage
	stmtLeaseMessage
	numStmts
)

// writerSQL is each statement's text: the only place it is written.
var writerSQL = [numStmts]string{
	stmtInsertRequest: `INSERT INTO requests
		(tenant_id, id, etag, status, type, created_at, open_due_at, outbox_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	stmtRequestForUpdate: `SELECT etag, status, type, created_at, open_due_at, outbox_at
			FROM requests WHERE tenant_id = ? AND id = ?`,
	stmtSpoolMail:   "INSERT INTO mail_spool (id, tenant_id, created_at, sealed) VALUES (?, ?, ?, ?)",
	stmtInsertAudit: "INSERT INTO audit (tenant_id, seq, event_id, doc) VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, event_id) DO NOTHING",
	stmtDataVersion: "PRAGMA data_version",
	stmtDedupeExpire: `DELETE FROM dedupe WHERE (queue, id) IN
			(SELECT queue, id FROM dedupe WHERE expires_at <= ? LIMIT 100)`,
	stmtDedupeInsert: `INSERT INTO dedupe (queue, id, expires_at) VALUES (?, ?, ?)
				ON CONFLICT (queue, id) DO UPDATE SET expires_at = excluded.expires_at WHERE dedupe.expires_at <= ?`,
	stmtInsertMessage: `INSERT INTO messages
				(queue, id, body, enqueued_at, visible_at, content_type, properties) VALUES (?, ?, ?, ?, ?, ?, ?)`,
	stmtNextMessage: `SELECT seq, id, body, delivery_count, enqueued_at, content_type, properties
				FROM messages WHERE queue = ? AND state = 'ready' AND visible_at <= ? ORDER BY visible_at, seq LIMIT 1`,
	stmtLeaseMessage: `UPDATE messages SET delivery_count = ?, lease = ?, visible_at = ?
				WHERE seq = ?`,
}

// writerStmts holds the prepared statements; a nil *writerStmts (before Open
// prepared them) runs each statement unprepared.
type writerStmts struct {
	s [numStmts]*sql.Stmt
}

// prepareWriterStmts prepares every statement on w. Call it after the
// migrations, while no write is in flight.
func prepareWriterStmts(ctx context.Context, w *sql.DB) (*writerStmts, error) {
	st := new(writerStmts)
	for id, q := range writerSQL {
		s, err := w.PrepareContext(ctx, q)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("prepare statement %d: %w", id, translate(err)), st.close())
		}
		st.s[id] = s
	}
	return st, nil
}

// close closes the prepared statements (and their driver handles on every
// connection).
func (st *writerStmts) close() error {
	if st == nil {
		return nil
	}
	var errs []error
	for i, s := range st.s {
		if s != nil {
			errs = append(errs, s.Close())
			st.s[i] = nil
		}
	}
	return errors.Join(errs...)
}

// exec runs statement id in the writer's transaction tx.
func (st *writerStmts) exec(ctx context.Context, tx *sql.Tx, id stmtID, args ...any) (sql.Result, error) {
	if st == nil || st.s[id] == nil {
		return tx.ExecContext(ctx, writerSQL[id], args...)
	}
	return tx.StmtContext(ctx, st.s[id]).ExecContext(ctx, args...)
}

// queryRow runs query id in the writer's transaction tx.
func (st *writerStmts) queryRow(ctx context.Context, tx *sql.Tx, id stmtID, args ...any) *sql.Row {
	if st == nil || st.s[id] == nil {
		return tx.QueryRowContext(ctx, writerSQL[id], args...)
	}
	return tx.StmtContext(ctx, st.s[id]).QueryRowContext(ctx, args...)
}
