-- Mail spool (issue 16): a mail that must follow a committed write (a portal
-- submission's code mail) is stored in the same transaction, sealed by the
-- service, and deleted once it has been sent; a process that crashed before
-- sending it leaves the row for the next one. Rows live for milliseconds.
CREATE TABLE mail_spool (
    id         TEXT NOT NULL PRIMARY KEY, -- the mail id (its Message-ID)
    tenant_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,          -- Unix ns
    sealed     BLOB NOT NULL              -- opaque to the store
) STRICT, WITHOUT ROWID;
