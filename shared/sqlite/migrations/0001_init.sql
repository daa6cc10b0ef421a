-- Store: documents as JSON plus the columns the queries filter on. Every
-- request and audit row is keyed by its tenant first, so tenants never collide
-- and every query names its tenant.
CREATE TABLE tenants (
    id   TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    doc  TEXT NOT NULL
) STRICT;

CREATE TABLE requests (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    etag        TEXT NOT NULL,
    status      TEXT NOT NULL,
    type        TEXT NOT NULL,
    created_at  INTEGER NOT NULL, -- Unix ns
    open_due_at INTEGER,          -- Unix ns; NULL: no due date, or terminal
    outbox_at   INTEGER,          -- oldest outbox event, Unix ns; NULL: outbox empty
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX requests_created ON requests (tenant_id, created_at DESC, id DESC);
CREATE INDEX requests_status ON requests (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX requests_type ON requests (tenant_id, type, created_at DESC, id DESC);
CREATE INDEX requests_outbox ON requests (tenant_id, outbox_at) WHERE outbox_at IS NOT NULL;
CREATE INDEX requests_open_due ON requests (tenant_id, open_due_at) WHERE open_due_at IS NOT NULL;

CREATE TABLE audit (
    tenant_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    event_id  TEXT NOT NULL,
    doc       TEXT NOT NULL, -- the sealed event, hash included
    PRIMARY KEY (tenant_id, seq),
    UNIQUE (tenant_id, event_id)
) STRICT;

-- Queue: one row per message until it is completed. state 'ready' covers
-- visible, scheduled and leased messages (lease set, visible_at = lease end);
-- 'dead' is the dead-letter list.
CREATE TABLE messages (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT, -- enqueue order, never reused
    queue          TEXT NOT NULL,
    id             TEXT NOT NULL,
    body           BLOB NOT NULL,
    enqueued_at    INTEGER NOT NULL,
    visible_at     INTEGER NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lease          TEXT,
    state          TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'dead')),
    dead_reason    TEXT,
    dead_at        INTEGER
) STRICT;

CREATE INDEX messages_ready ON messages (queue, visible_at, seq) WHERE state = 'ready';
CREATE INDEX messages_dead ON messages (queue, dead_at, seq) WHERE state = 'dead';
CREATE INDEX messages_id ON messages (queue, id);
CREATE UNIQUE INDEX messages_lease ON messages (lease) WHERE lease IS NOT NULL;

-- Ids published within the dedupe window, per queue.
CREATE TABLE dedupe (
    queue      TEXT NOT NULL,
    id         TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX dedupe_expiry ON dedupe (expires_at);
