package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DeadLetter is a message moved to a queue's dead-letter list.
type DeadLetter struct {
	Queue         string
	ID            string
	Body          []byte
	DeliveryCount int
	EnqueuedAt    time.Time
	DeadAt        time.Time
	Reason        string
	ContentType   string
	Properties    map[string]string
}

// DeadLetters returns up to limit (default 100, at most 1000) dead letters of
// queue, oldest first. Read-only.
func (q *Queue) DeadLetters(ctx context.Context, queue string, limit int) ([]DeadLetter, error) {
	rows, err := q.db.r.QueryContext(ctx, `SELECT id, body, delivery_count, enqueued_at, dead_at, COALESCE(dead_reason, ''),
		content_type, properties FROM messages WHERE queue = ? AND state = 'dead' ORDER BY dead_at, seq LIMIT ?`, queue, pageSize(limit, 100))
	if err != nil {
		return nil, fmt.Errorf("list dead letters of %s: %w", queue, translate(err))
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		d := DeadLetter{Queue: queue}
		var enqueued, dead int64
		var props sql.NullString
		if err := rows.Scan(&d.ID, &d.Body, &d.DeliveryCount, &enqueued, &dead, &d.Reason, &d.ContentType, &props); err != nil {
			return nil, fmt.Errorf("list dead letters of %s: %w", queue, translate(err))
		}
		var err error
		if d.Properties, err = decodeProperties(props); err != nil {
			return nil, fmt.Errorf("list dead letters of %s: %w", queue, err)
		}
		d.EnqueuedAt, d.DeadAt = fromNanos(enqueued), fromNanos(dead)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letters of %s: %w", queue, translate(err))
	}
	return out, nil
}

// Requeue moves the dead letters of queue with the given ids (all of them when
// none is given) back to the queue, visible now with a fresh delivery count, and
// returns how many moved: the operator's replay after fixing a cause. Body,
// content type and properties move unchanged. Ids that
// are not dead letters are ignored, so a repeated requeue is harmless. A dead
// letter whose body the dead-letter sweep emptied (DEADLETTER_KEEP) stays.
func (q *Queue) Requeue(ctx context.Context, queue string, ids ...string) (int, error) {
	const set = `UPDATE messages SET state = 'ready', dead_reason = NULL, dead_at = NULL, delivery_count = 0,
		lease = NULL, visible_at = ? WHERE queue = ? AND state = 'dead' AND body_purged_at IS NULL`
	now := nanos(q.db.opts.Now())
	var moved int64
	err := q.db.write(ctx, func(tx *sql.Tx) error {
		moved = 0 // a batched write may run twice (writer.go)
		exec := func(stmt string, args ...any) error {
			res, err := tx.ExecContext(ctx, stmt, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			moved += n
			return err
		}
		if len(ids) == 0 {
			return exec(set, now, queue)
		}
		for _, id := range ids {
			if err := exec(set+" AND id = ?", now, queue, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue dead letters of %s: %w", queue, err)
	}
	if moved > 0 {
		q.db.arrivals.signal(queue)
	}
	return int(moved), nil
}

// Counts is a snapshot of a queue: live messages by state, and dead letters.
type Counts struct {
	Visible int // can be received now
	Leased  int // delivered, lease running
	Delayed int // scheduled or retried, not yet visible
	Dead    int
}

// Counts returns a snapshot of queue. Read-only.
func (q *Queue) Counts(ctx context.Context, queue string) (Counts, error) {
	var c Counts
	err := q.db.r.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(state = 'ready' AND visible_at <= ?1), 0),
		COALESCE(SUM(state = 'ready' AND visible_at > ?1 AND lease IS NOT NULL), 0),
		COALESCE(SUM(state = 'ready' AND visible_at > ?1 AND lease IS NULL), 0),
		COALESCE(SUM(state = 'dead'), 0)
		FROM messages WHERE queue = ?2`, nanos(q.db.opts.Now()), queue).Scan(&c.Visible, &c.Leased, &c.Delayed, &c.Dead)
	if err != nil {
		return Counts{}, fmt.Errorf("count messages of %s: %w", queue, translate(err))
	}
	return c, nil
}
