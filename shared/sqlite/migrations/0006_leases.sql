-- Operator-level leases (issue 12): one row per named lease, e.g. the
-- retention timer's "retention-timer", so two timer invocations started at
-- once never both enqueue; a holder that died loses it at until. The etag
-- changes with every write (the lease document is ETag-guarded, as on Cosmos).
CREATE TABLE leases (
    name  TEXT NOT NULL PRIMARY KEY,
    owner TEXT NOT NULL,
    until INTEGER NOT NULL, -- Unix ns
    etag  TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Dead letters whose body the operator-level dead-letter sweep emptied
-- (DEADLETTER_KEEP): the row stays as evidence, never requeued.
ALTER TABLE messages ADD COLUMN body_purged_at INTEGER; -- Unix ns; NULL: the body is there
