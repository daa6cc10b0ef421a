package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// leaseKeep is how long a lease row outlives its expiry.
const leaseKeep = 24 * time.Hour

// AcquireLease gives the lease name to owner until then, unless another owner
// holds it past now; a renewal by the holder always succeeds. It reports
// whether owner holds the lease. One conditional upsert: two callers at once
// cannot both win (the embedded store has one writer).
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	var ok bool
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		// The leases of past occurrences go a day after they expired.
		if _, err := tx.ExecContext(ctx, "DELETE FROM leases WHERE until < ?", nanos(now.Add(-leaseKeep))); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, owner, until, etag) VALUES (?, ?, ?, ?)
			ON CONFLICT DO UPDATE SET owner = excluded.owner, until = excluded.until, etag = excluded.etag
			WHERE leases.owner = excluded.owner OR leases.until <= ?`,
			name, owner, nanos(until), newToken(), nanos(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, translate(err))
	}
	return ok, nil
}

// ReleaseLease ends owner's lease, if it still holds it. Idempotent.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND owner = ?", name, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, translate(err))
	}
	return nil
}
