-- Breach notification (shared/breach): incidents in the operator's partition
-- ('_operator') and each affected tenant's notice in its own, one table keyed
-- by partition first like every other document. attention_at is when the
-- deadline watch should look at the document (an unfinished outbox, the next
-- escalation point); NULL: nothing to do.
CREATE TABLE breach_docs (
    kind         TEXT NOT NULL,    -- 'incident' or 'notice'
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    etag         TEXT NOT NULL,
    created_at   INTEGER NOT NULL, -- Unix ns
    attention_at INTEGER,          -- Unix ns; NULL: none
    doc          TEXT NOT NULL,
    PRIMARY KEY (kind, tenant_id, id)
) STRICT, WITHOUT ROWID;

CREATE INDEX breach_docs_created ON breach_docs (kind, tenant_id, created_at DESC, id DESC);
CREATE INDEX breach_docs_attention ON breach_docs (kind, tenant_id, attention_at) WHERE attention_at IS NOT NULL;
