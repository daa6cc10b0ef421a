package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// jsonPath turns an identity path ("/contact/email") into a SQLite JSON path
// ("$.contact.email"), quoting each name so none is read as syntax.
func jsonPath(p string) (string, error) {
	if len(p) < 2 || p[0] != '/' {
		return "", fmt.Errorf("identity path %q must start with /", p)
	}
	var b strings.Builder
	b.WriteString("$")
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || strings.ContainsAny(seg, `"\`) {
			return "", fmt.Errorf("identity path %q has an empty or quoted segment", p)
		}
		b.WriteString(`."` + seg + `"`)
	}
	return b.String(), nil
}

// QueryItems calls fn with every item of the tenant in container whose value
// at path equals value, one row at a time.
func (s *Store) QueryItems(ctx context.Context, tenantID, container, path, value string, fn func(item []byte) error) error {
	jp, err := jsonPath(path)
	if err != nil {
		return err
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT doc FROM data_items
		WHERE tenant_id = ? AND container = ? AND json_extract(doc, ?) = ? ORDER BY id`, tenantID, container, jp, value)
	if err != nil {
		return fmt.Errorf("query items: %w", translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return fmt.Errorf("query items: %w", translate(err))
		}
		if err := fn(doc); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

// DeleteItems deletes the tenant's items in container whose value at path
// equals value.
func (s *Store) DeleteItems(ctx context.Context, tenantID, container, path, value string) (int, error) {
	jp, err := jsonPath(path)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM data_items
			WHERE tenant_id = ? AND container = ? AND json_extract(doc, ?) = ?`, tenantID, container, jp, value)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete items: %w", err)
	}
	return int(n), nil
}

// PutItem stores an item of the tenant in container; its "id" names it.
func (s *Store) PutItem(ctx context.Context, tenantID, container string, item []byte) error {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(item, &head); err != nil || head.ID == "" {
		return errors.New("put item: an item is a JSON object with a string id")
	}
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO data_items (tenant_id, container, id, doc) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, container, id) DO UPDATE SET doc = excluded.doc`, tenantID, container, head.ID, string(item))
		return err
	})
	if err != nil {
		return fmt.Errorf("put item: %w", err)
	}
	return nil
}

// ScanItemsBefore calls fn with up to limit items of the tenant in container
// whose id sorts after afterID and whose value at path is a time (RFC 3339)
// before before, in id order. Items without a readable time at path are
// skipped. It walks the primary key from afterID, so paging through a
// container costs one pass however many items are not yet due.
func (s *Store) ScanItemsBefore(ctx context.Context, tenantID, container, path string, before time.Time, afterID string, limit int, fn func(id string, doc []byte) error) error {
	jp, err := jsonPath(path)
	if err != nil {
		return err
	}
	// julianday parses RFC 3339 with any fraction and a Z or ±hh:mm offset;
	// an unreadable value is NULL and never compares true. The caller checks
	// the exact time again.
	rows, err := s.db.r.QueryContext(ctx, `SELECT id, doc FROM data_items
		WHERE tenant_id = ? AND container = ? AND id > ? AND julianday(json_extract(doc, ?)) < julianday(?)
		ORDER BY id LIMIT ?`, tenantID, container, afterID, jp, before.UTC().Format(time.RFC3339Nano), limit)
	if err != nil {
		return fmt.Errorf("scan items: %w", translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var doc []byte
		if err := rows.Scan(&id, &doc); err != nil {
			return fmt.Errorf("scan items: %w", translate(err))
		}
		if err := fn(id, doc); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

// DeleteItemIDs deletes the tenant's items in container with these ids and
// returns how many it deleted (ids already gone do not count), so a repeated
// call is harmless. It is a bulk write (a retention page): one transaction
// per bulkChunk ids (500), each yielding to the portal's writes; after an error,
// the chunks before it stay deleted (a repeated call finds them gone).
func (s *Store) DeleteItemIDs(ctx context.Context, tenantID, container string, ids []string) (int, error) {
	total := 0
	for chunk := range slices.Chunk(ids, bulkChunk) {
		n, err := s.deleteItemIDs(ctx, tenantID, container, chunk)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Store) deleteItemIDs(ctx context.Context, tenantID, container string, ids []string) (int, error) {
	var n int64
	err := s.db.writeBulk(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM data_items WHERE tenant_id = ? AND container = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			res, err := stmt.ExecContext(ctx, tenantID, container, id)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete items: %w", err)
	}
	return int(n), nil
}

// MarkItemsStorageOnly sets the property privopsStorageOnly to at on the
// tenant's items in container with these ids that do not have it yet, and
// counts those it changed (retention.Marker). A bulk write, as
// DeleteItemIDs: one transaction per bulkChunk ids.
func (s *Store) MarkItemsStorageOnly(ctx context.Context, tenantID, container string, ids []string, at time.Time) (int, error) {
	total := 0
	for chunk := range slices.Chunk(ids, bulkChunk) {
		n, err := s.markItemsStorageOnly(ctx, tenantID, container, chunk, at)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Store) markItemsStorageOnly(ctx context.Context, tenantID, container string, ids []string, at time.Time) (int, error) {
	var n int64
	err := s.db.writeBulk(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE data_items SET doc = json_set(doc, '$.privopsStorageOnly', ?)
			WHERE tenant_id = ? AND container = ? AND id = ? AND json_extract(doc, '$.privopsStorageOnly') IS NULL`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			res, err := stmt.ExecContext(ctx, at.UTC().Format(time.RFC3339Nano), tenantID, container, id)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mark items storage-only: %w", err)
	}
	return int(n), nil
}
