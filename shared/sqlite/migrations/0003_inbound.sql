-- Inbound log: one row per message received from a tenant's system, keyed by
-- its tenant first like every other tenant document. A row whose expires_at
-- has passed is never read (every query filters it) and is purged, a bounded
-- batch at a time, by the next CreateInbound: a rejected record keeps the
-- message body, which may hold personal data, only until then.
CREATE TABLE inbound (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    etag        TEXT NOT NULL,
    status      TEXT NOT NULL,
    received_at INTEGER NOT NULL, -- Unix ns
    expires_at  INTEGER,          -- Unix ns; NULL: never
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX inbound_received ON inbound (tenant_id, received_at DESC, id DESC);
CREATE INDEX inbound_status ON inbound (tenant_id, status, received_at DESC, id DESC);
CREATE INDEX inbound_expiry ON inbound (expires_at) WHERE expires_at IS NOT NULL;

-- Queue messages carry a content type and application properties (the
-- inbound queue's signature is one). Most messages have neither.
ALTER TABLE messages ADD COLUMN content_type TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN properties TEXT; -- JSON object of strings; NULL: none
