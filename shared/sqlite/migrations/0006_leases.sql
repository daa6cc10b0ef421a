-- Operator-level leases (issue 12): one row per named lease, e.g. the
-- retention timer's "retention-timer-<occurrence>", so two timer invocations
-- of one occurrence never both enqueue; a holder that died loses it at until;
-- a row goes a day after it expired. The etag changes with every write (the
-- lease document is ETag-guarded, as on Cosmos DB).
CREATE TABLE leases (
    name  TEXT NOT NULL PRIMARY KEY,
    owner TEXT NOT NULL,
    until INTEGER NOT NULL, -- Unix ns
    etag  TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Dead letters whose body the operator-level dead-letter sweep emptied
-- (DEADLETTER_KEEP): the row stays as evidence, never requeued.
ALTER TABLE messages ADD COLUMN body_purged_at INTEGER; -- Unix ns; NULL: the body is there
