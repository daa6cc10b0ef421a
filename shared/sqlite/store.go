package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/privops/privops/shared/privacy"
)

var _ privacy.Store = (*Store)(nil)

// Store is the privacy.Store of a DB. Documents are kept as JSON with the
// columns the queries filter on; the ETag is a random value replaced on every
// write. Every request and audit query names its tenant.
type Store struct{ db *DB }

// Store returns the DB's store.
func (db *DB) Store() *Store { return &Store{db: db} }

// GetTenant reads a tenant. It returns a wrapped privacy.ErrNotFound if absent.
func (s *Store) GetTenant(ctx context.Context, id string) (*privacy.Tenant, error) {
	t := new(privacy.Tenant)
	err := scanDoc(s.db.r.QueryRowContext(ctx, "SELECT etag, doc FROM tenants WHERE id = ?", id), t, &t.ETag)
	if err != nil {
		return nil, fmt.Errorf("get tenant %s: %w", id, err)
	}
	return t, nil
}

// CreateTenant stores t and sets t.ETag. It returns a wrapped
// privacy.ErrConflict if the id exists, so a repeated create is harmless.
func (s *Store) CreateTenant(ctx context.Context, t *privacy.Tenant) error {
	if t.ID == "" {
		return errors.New("create tenant: tenant id is required")
	}
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	etag := newToken()
	if err := s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO tenants (id, etag, doc) VALUES (?, ?, ?)", t.ID, etag, string(doc))
		return err
	}); err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, translate(err))
	}
	t.ETag = etag
	return nil
}

// UpdateTenant replaces the tenant if t.ETag matches the stored one (an empty
// ETag never matches) and sets t.ETag to the new value. It returns a wrapped
// privacy.ErrConflict on a mismatch and privacy.ErrNotFound if absent.
func (s *Store) UpdateTenant(ctx context.Context, t *privacy.Tenant) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("update tenant %s: %w", t.ID, err)
	}
	etag := newToken()
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE tenants SET etag = ?, doc = ? WHERE id = ? AND etag = ?",
			etag, string(doc), t.ID, t.ETag)
		if err != nil {
			return err
		}
		return updated(ctx, tx, res, "SELECT 1 FROM tenants WHERE id = ?", t.ID)
	})
	if err != nil {
		return fmt.Errorf("update tenant %s: %w", t.ID, err)
	}
	t.ETag = etag
	return nil
}

// updated returns nil if res changed a row; otherwise privacy.ErrNotFound if
// the exists query finds no row, else privacy.ErrConflict (the ETag moved on).
func updated(ctx context.Context, tx *sql.Tx, res sql.Result, exists string, args ...any) error {
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var one int
	switch err := tx.QueryRowContext(ctx, exists, args...).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return privacy.ErrNotFound
	case err != nil:
		return err
	}
	return privacy.ErrConflict
}

// ListTenants returns every tenant, ordered by id.
func (s *Store) ListTenants(ctx context.Context) ([]*privacy.Tenant, error) {
	rows, err := s.db.r.QueryContext(ctx, "SELECT etag, doc FROM tenants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", translate(err))
	}
	out, err := scanDocs(rows, func(t *privacy.Tenant) *string { return &t.ETag })
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// requestColumns returns the indexed columns of r, in the order of the
// INSERT and UPDATE statements. openDue is the due date of an open request
// (NULL when terminal), so the overdue query reads only open requests.
func requestColumns(r *privacy.Request) (status, typ string, created int64, openDue, outbox sql.NullInt64) {
	outbox = nullNanos(r.AttentionAt()) // the column predates task wake-ups; it holds both
	if !r.Status.Terminal() {
		openDue = nullNanos(r.Due.At)
	}
	return string(r.Status), string(r.Type), nanos(r.CreatedAt), openDue, outbox
}

// CreateRequest stores r under (r.TenantID, r.ID) and sets r.ETag. It returns
// a wrapped privacy.ErrConflict if that id exists in the tenant, which makes a
// create with a deterministic id idempotent.
func (s *Store) CreateRequest(ctx context.Context, r *privacy.Request) error {
	return s.CreateRequestWithAudit(ctx, r, nil)
}

// CreateRequestWithAudit is CreateRequest that also appends events to their
// audit chains (as AppendAudit, idempotent by id) in the same transaction:
// the request and its audit entries are stored together or not at all. A
// submission is then one durable write instead of three (create, append,
// clear the outbox); dsr uses it when the store has it. Each event is filled
// from what was stored.
func (s *Store) CreateRequestWithAudit(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent) error {
	return s.CreateRequestWithMail(ctx, r, events, nil)
}

// CreateRequestWithMail is CreateRequestWithAudit that also spools mails (a
// submission's code mail) in the same transaction: the request, its audit
// entries and the mails that must follow it are stored together or not at
// all. A spooled mail with an id already in the spool is a conflict.
func (s *Store) CreateRequestWithMail(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent, mails []privacy.SpooledMail) error {
	if r.TenantID == "" || r.ID == "" {
		return errors.New("create request: tenant id and request id are required")
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	status, typ, created, due, outbox := requestColumns(r)
	etag := newToken()
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := s.db.st.exec(ctx, tx, stmtInsertRequest,
			r.TenantID, r.ID, etag, status, typ, created, due, outbox, string(doc))
		if err != nil {
			return err
		}
		if err := spoolMails(ctx, tx, s.db.st, mails); err != nil {
			return err
		}
		return appendAudits(ctx, tx, s.db.st, s.db.heads, events)
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	r.ETag = etag
	return nil
}

// GetRequest reads a tenant's request. It returns a wrapped
// privacy.ErrNotFound if absent or stored under another tenant.
func (s *Store) GetRequest(ctx context.Context, tenantID, id string) (*privacy.Request, error) {
	r := new(privacy.Request)
	err := scanDoc(s.db.r.QueryRowContext(ctx, "SELECT etag, doc FROM requests WHERE tenant_id = ? AND id = ?",
		tenantID, id), r, &r.ETag)
	if err != nil {
		return nil, fmt.Errorf("get request %s: %w", id, err)
	}
	return r, nil
}

// UpdateRequest replaces the request if r.ETag matches the stored one (an
// empty ETag never matches) and sets r.ETag to the new value. It returns a
// wrapped privacy.ErrConflict on a mismatch and privacy.ErrNotFound if the
// tenant has no such request.
//
// It reads the stored row's indexed columns first and sets only those that
// change: SQLite rewrites the entry of every index on a column an UPDATE
// sets, changed or not, and most writes (an outbox cleared, a task's
// progress) change none of the five indexes.
func (s *Store) UpdateRequest(ctx context.Context, r *privacy.Request) error {
	return s.UpdateRequestWithAudit(ctx, r, nil)
}

// UpdateRequestWithAudit is UpdateRequest that also appends events to their
// audit chains in the same transaction, as CreateRequestWithAudit: on a
// conflict nothing is appended.
func (s *Store) UpdateRequestWithAudit(ctx context.Context, r *privacy.Request, events []*privacy.AuditEvent) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, err)
	}
	status, typ, created, due, outbox := requestColumns(r)
	etag := newToken()
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		var cur struct {
			etag, status, typ string
			created           int64
			due, outbox       sql.NullInt64
		}
		err := s.db.st.queryRow(ctx, tx, stmtRequestForUpdate, r.TenantID, r.ID).
			Scan(&cur.etag, &cur.status, &cur.typ, &cur.created, &cur.due, &cur.outbox)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return privacy.ErrNotFound
		case err != nil:
			return err
		case cur.etag != r.ETag:
			return privacy.ErrConflict
		}
		set, args := "etag = ?, doc = ?", []any{etag, string(doc)}
		for _, c := range []struct {
			col      string
			changed  bool
			newValue any
		}{
			{"status", status != cur.status, status},
			{"type", typ != cur.typ, typ},
			{"created_at", created != cur.created, created},
			{"open_due_at", due != cur.due, due},
			{"outbox_at", outbox != cur.outbox, outbox},
		} {
			if c.changed {
				set += ", " + c.col + " = ?"
				args = append(args, c.newValue)
			}
		}
		// The writer connection is this transaction's alone: the row read
		// above cannot change before this statement.
		if _, err := tx.ExecContext(ctx, "UPDATE requests SET "+set+" WHERE tenant_id = ? AND id = ?",
			append(args, r.TenantID, r.ID)...); err != nil {
			return err
		}
		return appendAudits(ctx, tx, s.db.st, s.db.heads, events)
	})
	if err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, err)
	}
	r.ETag = etag
	return nil
}

// scanDoc reads one (etag, doc) row into v and *etag; privacy.ErrNotFound if
// there is no row.
func scanDoc(row *sql.Row, v any, etag *string) error {
	var doc []byte
	var tag string
	switch err := row.Scan(&tag, &doc); {
	case errors.Is(err, sql.ErrNoRows):
		return privacy.ErrNotFound
	case err != nil:
		return translate(err)
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("decode stored document: %w", err)
	}
	*etag = tag
	return nil
}

// scanDocs reads (etag, doc) rows into new values of T; etagOf says where a
// value's ETag goes.
func scanDocs[T any](rows *sql.Rows, etagOf func(*T) *string) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var etag string
		var doc []byte
		if err := rows.Scan(&etag, &doc); err != nil {
			return nil, translate(err)
		}
		v := new(T)
		if err := json.Unmarshal(doc, v); err != nil {
			return nil, fmt.Errorf("decode stored document: %w", err)
		}
		*etagOf(v) = etag
		out = append(out, v)
	}
	return out, translate(rows.Err())
}

// Ping reports whether the database answers a read: the standalone host's
// readiness check. It does not write, so a busy writer does not make the
// process look unready.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.db.r.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}
