package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/shared/privacy"
)

var (
	_ privacy.Publisher = (*Queue)(nil)
	_ privacy.Receiver  = (*Queue)(nil)
)

// ReasonMaxDeliveries is the dead-letter reason of a message that was delivered
// Options.QueueMaxDeliveries times without being completed.
const ReasonMaxDeliveries = "max-delivery-count-exceeded"

// Queue is the durable queue of a DB: privacy.Publisher and privacy.Receiver,
// with dedupe by message id within a window, scheduled delivery, leases, retry
// with delay and dead letters, plus operator helpers (DeadLetters, Requeue,
// Counts). A received message stays in the table, invisible until its lease
// ends, so a crashed consumer's message is delivered again.
type Queue struct{ db *DB }

// Queue returns the DB's queue.
func (db *DB) Queue() *Queue { return &Queue{db: db} }

// Publish enqueues msgs on queue in one transaction, skipping any whose id was
// published to queue within the dedupe window (so it is idempotent per id). A
// message with a NotBefore in the future becomes visible then. Every message
// needs an id. Body, content type and properties are delivered as published,
// through retries, dead-lettering and requeueing. Errors wrap privacy.ErrUnavailable when the file is locked.
func (q *Queue) Publish(ctx context.Context, queue string, msgs ...privacy.OutMessage) error {
	for i, m := range msgs {
		if m.ID == "" {
			return fmt.Errorf("publish to %s: message %d has no id", queue, i)
		}
	}
	err := q.db.write(ctx, func(tx *sql.Tx) error {
		now := q.db.opts.Now() // read under the write lock, as in Receive
		// Forget expired ids, a bounded batch at a time.
		if _, err := q.db.st.exec(ctx, tx, stmtDedupeExpire, nanos(now)); err != nil {
			return err
		}
		for _, m := range msgs {
			res, err := q.db.st.exec(ctx, tx, stmtDedupeInsert, queue, m.ID, nanos(now.Add(q.db.opts.DedupeWindow)), nanos(now))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // a duplicate within the window
			}
			body := m.Body
			if body == nil {
				body = []byte{}
			}
			props, err := encodeProperties(m.Properties)
			if err != nil {
				return fmt.Errorf("message %s: %w", m.ID, err)
			}
			if _, err := q.db.st.exec(ctx, tx, stmtInsertMessage, queue, m.ID, body, nanos(now), nanos(later(now, m.NotBefore)), m.ContentType, props); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	q.db.arrivals.signal(queue)
	return nil
}

// encodeProperties renders application properties as a JSON object, or NULL
// when there are none.
func encodeProperties(p map[string]string) (sql.NullString, error) {
	if len(p) == 0 {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode properties: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// decodeProperties reads what encodeProperties wrote; NULL is nil.
func decodeProperties(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var p map[string]string
	if err := json.Unmarshal([]byte(s.String), &p); err != nil {
		return nil, fmt.Errorf("decode stored properties: %w", err)
	}
	return p, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Receive leases the visible message of queue that became visible first (then
// the first enqueued) for lease, or returns (nil, nil) when none is visible. A
// message already delivered QueueMaxDeliveries times is dead-lettered with
// reason ReasonMaxDeliveries instead of being delivered. lease must be positive.
func (q *Queue) Receive(ctx context.Context, queue string, lease time.Duration) (*privacy.Delivery, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("receive from %s: lease %s is not positive", queue, lease)
	}
	var d *privacy.Delivery
	err := q.db.write(ctx, func(tx *sql.Tx) error {
		now := q.db.opts.Now() // read under the write lock, so leases start when granted
		for {
			var seq, enqueued int64
			var count int
			var id, contentType string
			var body []byte
			var props sql.NullString
			err := q.db.st.queryRow(ctx, tx, stmtNextMessage, queue, nanos(now)).Scan(&seq, &id, &body, &count, &enqueued, &contentType, &props)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			} else if err != nil {
				return err
			}
			if count >= q.db.opts.QueueMaxDeliveries {
				if _, err := tx.ExecContext(ctx, `UPDATE messages SET state = 'dead', dead_reason = ?, dead_at = ?,
					lease = NULL WHERE seq = ?`, ReasonMaxDeliveries, nanos(now), seq); err != nil {
					return err
				}
				continue
			}
			properties, err := decodeProperties(props)
			if err != nil {
				return err
			}
			token := newToken()
			if _, err := q.db.st.exec(ctx, tx, stmtLeaseMessage, count+1, token, nanos(now.Add(lease)), seq); err != nil {
				return err
			}
			d = &privacy.Delivery{Queue: queue, ID: id, Body: body, DeliveryCount: count + 1,
				EnqueuedAt: fromNanos(enqueued), Lease: token, ContentType: contentType, Properties: properties}
			return nil
		}
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", queue, err)
	}
	return d, nil
}

// Complete removes a delivered message. It returns a wrapped
// privacy.ErrConflict if the lease ran out or the message was settled already.
func (q *Queue) Complete(ctx context.Context, d *privacy.Delivery) error {
	return q.settle(ctx, "complete", d, "DELETE FROM messages")
}

// Retry releases a delivered message to become visible again after delay. It
// returns a wrapped privacy.ErrConflict if the lease was lost.
func (q *Queue) Retry(ctx context.Context, d *privacy.Delivery, delay time.Duration) error {
	at := q.db.opts.Now().Add(max(delay, 0))
	return q.settle(ctx, "retry", d, "UPDATE messages SET lease = NULL, visible_at = ?", nanos(at))
}

// Extend renews a delivered message's lease to end lease from now, keeping it
// invisible while its consumer still works on it. It returns a wrapped
// privacy.ErrConflict if the lease was lost. lease must be positive.
func (q *Queue) Extend(ctx context.Context, d *privacy.Delivery, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("extend lease: lease %s is not positive", lease)
	}
	return q.settle(ctx, "extend lease of", d, "UPDATE messages SET visible_at = ?", nanos(q.db.opts.Now().Add(lease)))
}

// DeadLetter moves a delivered message to the queue's dead-letter list with
// reason. It returns a wrapped privacy.ErrConflict if the lease was lost.
func (q *Queue) DeadLetter(ctx context.Context, d *privacy.Delivery, reason string) error {
	return q.settle(ctx, "dead-letter", d, "UPDATE messages SET state = 'dead', dead_reason = ?, dead_at = ?, lease = NULL",
		reason, nanos(q.db.opts.Now()))
}

// settle runs stmt (a DELETE or an UPDATE ... SET) on the message d still
// holds the lease of; none means the lease was lost.
func (q *Queue) settle(ctx context.Context, op string, d *privacy.Delivery, stmt string, args ...any) error {
	if d == nil || d.Lease == "" {
		return fmt.Errorf("%s message: no delivery", op)
	}
	args = append(args, d.Queue, d.ID, d.Lease, nanos(q.db.opts.Now()))
	var n int64
	err := q.db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, stmt+
			" WHERE queue = ? AND id = ? AND lease = ? AND state = 'ready' AND visible_at > ?", args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("%s message %s: %w", op, d.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("%s message %s: lease lost: %w", op, d.ID, privacy.ErrConflict)
	}
	return nil
}
