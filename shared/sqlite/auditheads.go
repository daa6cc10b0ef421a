package sqlite

import (
	"context"
	"database/sql"
)

// The writer caches the head (seq, hash) of each tenant's audit chain, so an
// append seals the new event without reading the head first: reading and
// decoding it was 9-15 % of the writer's time under intake load (README,
// Tests and benchmarks). The writer connection is the only one of this
// process that writes, so after each of its commits it knows every head it
// changed. What the cache must not miss, and how it does not:
//
//   - a write that does not commit: heads appended by a job are staged, kept
//     for the transaction only when the job succeeds (its savepoint is
//     released), and become the cache only once the transaction commits; a
//     failed batch or commit clears the whole cache, and the next append
//     reads the head from the file again;
//   - another connection's commit (a second process on the same file, such
//     as a CLI command, or a second Open in this one): SQLite's
//     PRAGMA data_version changes on this connection when any other
//     connection commits, and each transaction of the writer that appends
//     checks it before its first use of the cache and clears the cache when
//     it moved (the writer holds the write lock from BEGIN IMMEDIATE, so no
//     other commit can come between the check and its own commit);
//   - this writer deleting audit rows (a tenant's offboarding purge): the
//     purge forgets the tenant's head, staged like an append.
//
// And should a cached head still be stale, the append's INSERT fails on the
// (tenant_id, seq) primary key instead of forking the chain, the batch fails
// and the cache is cleared. Only the writer goroutine touches the cache.

// auditHead is the head of one tenant's chain; known is false for a head
// forgotten in this transaction (to be read from the file).
type auditHead struct {
	seq   int64
	hash  string
	known bool
}

// headCache is the writer's cache of audit chain heads, by tenant.
type headCache struct {
	committed map[string]auditHead // as of the last commit seen
	tx        map[string]auditHead // changed by the jobs of the open transaction that succeeded
	job       map[string]auditHead // changed by the running job
	version   int64                // PRAGMA data_version when committed was last valid
	versionOK bool
	checked   bool // data_version was checked in the open transaction
}

func newHeadCache() *headCache {
	return &headCache{committed: map[string]auditHead{}, tx: map[string]auditHead{}, job: map[string]auditHead{}}
}

// head returns the cached head of tenant's chain; ok is false when it is not
// cached (read it from the file). tx is the writer's open transaction.
func (c *headCache) head(ctx context.Context, tx *sql.Tx, st *writerStmts, tenant string) (h auditHead, ok bool) {
	if !c.checked {
		c.check(ctx, tx, st)
	}
	if h, ok := c.job[tenant]; ok {
		return h, h.known
	}
	if h, ok := c.tx[tenant]; ok {
		return h, h.known
	}
	h, ok = c.committed[tenant]
	return h, ok
}

// appended records the new head of tenant's chain in the running job.
func (c *headCache) appended(tenant string, seq int64, hash string) {
	c.job[tenant] = auditHead{seq: seq, hash: hash, known: true}
}

// forget makes the running job read tenant's head from the file (and the
// cache forget it once the job commits).
func (c *headCache) forget(tenant string) { c.job[tenant] = auditHead{} }

// begin starts a transaction on the writer connection: it clears what an
// earlier one left staged. Transactions that append no audit event (queue
// operations, most of a fan-out's writes) never pay for the check below.
func (c *headCache) begin() {
	clear(c.tx)
	clear(c.job)
	c.checked = false
}

// check clears the whole cache if another connection has committed since the
// cache was last valid (data_version moved) or the version cannot be read.
func (c *headCache) check(ctx context.Context, tx *sql.Tx, st *writerStmts) {
	c.checked = true
	var v int64
	if err := st.queryRow(ctx, tx, stmtDataVersion).Scan(&v); err != nil {
		c.reset()
		return
	}
	if !c.versionOK || v != c.version {
		clear(c.committed)
	}
	c.version, c.versionOK = v, true
}

// jobDone keeps the running job's heads for the transaction when it
// succeeded (ok) and drops them when it was rolled back.
func (c *headCache) jobDone(ok bool) {
	if ok {
		for t, h := range c.job {
			c.tx[t] = h
		}
	}
	clear(c.job)
}

// committedTx makes the transaction's heads the cache: call it once its
// commit succeeded.
func (c *headCache) committedTx() {
	for t, h := range c.tx {
		if h.known {
			c.committed[t] = h
		} else {
			delete(c.committed, t)
		}
	}
	clear(c.tx)
	clear(c.job)
}

// afterCommit is committedTx when the commit succeeded (err is nil) and
// reset when it failed.
func (c *headCache) afterCommit(err error) {
	if err != nil {
		c.reset()
		return
	}
	c.committedTx()
}

// reset forgets everything: after a transaction that failed or was rolled
// back, whatever it may have staged.
func (c *headCache) reset() {
	clear(c.committed)
	clear(c.tx)
	clear(c.job)
	c.versionOK = false
}
