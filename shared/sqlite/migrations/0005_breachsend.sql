-- Breach notification of data subjects (issue 13, items 6-7).
--
-- breach_campaigns: one document per (tenant, incident), ETag-guarded, with
-- the counters of its ledger beside it (updated in the same transaction as
-- each ledger row) and purge_at, when the watch must next purge something.
CREATE TABLE breach_campaigns (
    tenant_id   TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    etag        TEXT NOT NULL,
    purge_at    INTEGER,            -- Unix ns; NULL: nothing due
    sent        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    bounced     INTEGER NOT NULL DEFAULT 0,
    doc         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, incident_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX breach_campaigns_purge ON breach_campaigns (purge_at) WHERE purge_at IS NOT NULL;

-- breach_recipients: the uploaded lists (personal data), numbered 1..N per
-- list so that batches carry ranges; addr_key is the keyed hash of the
-- normalised address (dedupe within a list).
CREATE TABLE breach_recipients (
    tenant_id   TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    list_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    addr_key    TEXT NOT NULL,
    email       TEXT NOT NULL,
    language    TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    identifier  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, incident_id, list_id, seq)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX breach_recipients_addr ON breach_recipients (tenant_id, incident_id, list_id, addr_key);

-- breach_ledger: one row per (tenant, incident, recipient, channel, notice
-- version) once a delivery was tried; no row means pending. No address: the
-- recipient is its keyed hash.
CREATE TABLE breach_ledger (
    tenant_id     TEXT NOT NULL,
    incident_id   TEXT NOT NULL,
    recipient_key TEXT NOT NULL,
    channel       TEXT NOT NULL,
    version       INTEGER NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    next_at       INTEGER,          -- Unix ns; status retry only
    at            INTEGER NOT NULL, -- Unix ns of the last change
    code          TEXT NOT NULL DEFAULT '',
    mail_id       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, incident_id, recipient_key, channel, version)
) STRICT, WITHOUT ROWID;

-- breach_staged: lists whose rows must go at purge_at unless they are then
-- their campaign's list: uploads in flight (a crash leaves them here), and
-- lists an upload replaced.
CREATE TABLE breach_staged (
    tenant_id   TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    list_id     TEXT NOT NULL,
    purge_at    INTEGER NOT NULL, -- Unix ns
    PRIMARY KEY (tenant_id, incident_id, list_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX breach_staged_purge ON breach_staged (purge_at);

-- breach_claims: which invocation delivers a batch now, until when (renewed
-- while it runs), so that two deliveries of one batch never mail at once.
CREATE TABLE breach_claims (
    tenant_id   TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    batch       INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    until       INTEGER NOT NULL, -- Unix ns
    PRIMARY KEY (tenant_id, incident_id, batch)
) STRICT, WITHOUT ROWID;
