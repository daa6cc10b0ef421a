package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// deadBodyBatch bounds one transaction of PurgeDeadLetterBodies, leaving the
// one writer to the live service in between.
const deadBodyBatch = 1000

// PurgeDeadLetterBodies empties the body and application properties of the
// dead letters of queue enqueued before before, a thousand rows per
// transaction, and returns how many it emptied. The row stays as evidence
// (id, enqueued and dead-lettered times, delivery count, reason, and
// body_purged_at, migration 0006) and is never requeued. A repeated call counts nothing
// twice. The operator-level dead-letter sweep (DEADLETTER_KEEP) calls it.
func (q *Queue) PurgeDeadLetterBodies(ctx context.Context, queue string, before time.Time) (int, error) {
	total := 0
	for {
		var n int64
		err := q.db.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `UPDATE messages SET body = X'', properties = NULL, body_purged_at = ? WHERE seq IN (
				SELECT seq FROM messages WHERE queue = ? AND state = 'dead' AND enqueued_at < ? AND body_purged_at IS NULL LIMIT ?)`,
				nanos(q.db.opts.Now()), queue, nanos(before), deadBodyBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge dead-letter bodies of %s: %w", queue, translate(err))
		}
		total += int(n)
		if n < deadBodyBatch {
			return total, nil
		}
	}
}
