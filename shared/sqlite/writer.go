package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/privops/privops/shared/privacy"
)

// Group commit. SQLite has one writer, and with synchronous=full every commit
// waits for an fsync. Writes from concurrent callers are therefore queued to one
// writer goroutine that runs whatever is waiting as a batch inside one
// transaction, and one fsync serves the whole batch. If a job fails, the batch
// is rolled back and run again with each job under its own SAVEPOINT: the job
// that fails is rolled back alone and gets its own error, the others commit
// together. A job's fn may thus run twice, and must set (not accumulate) what
// it reports. A caller returns only once its batch is durable.

// maxBatch bounds a batch so one slow batch cannot hold many callers.
const maxBatch = 64

// Bulk writes (a retention page's deletes, an offboarding purge's batch) go
// through writeBulk: the writer runs one only when no other write waits, or
// once it has waited bulkMaxWait, and alone, in its own transaction, so a
// portal submission never waits behind a bulk write it was batched with, and
// waits behind at most one small one (issue 12 item 7: a sweep must not push
// intake p99 over its goal). The callers bound each bulk write to bulkChunk
// rows: one retention page at the default page size, since smaller
// transactions cost the sweep a commit each and did not shorten the intake
// tail (README, Retention, Measured: pages of 100).
const (
	bulkMaxWait = 20 * time.Millisecond
	bulkChunk   = 500
)

var errClosed = errors.New("database is closed")

type job struct {
	ctx   context.Context
	fn    func(tx *sql.Tx) error
	done  chan error
	taken time.Time // when the writer took a bulk job: its bulkMaxWait runs from then
}

type writer struct {
	jobs   chan *job
	bulk   chan *job // unbuffered: a bulk job is queued in its sender
	quit   chan struct{}
	exited chan struct{} // closed when the writer goroutine has returned
	once   sync.Once
	wg     sync.WaitGroup
}

func (db *DB) startWriter() {
	db.wr = &writer{jobs: make(chan *job, maxBatch), bulk: make(chan *job), quit: make(chan struct{}), exited: make(chan struct{})}
	db.wr.wg.Add(1)
	go db.runWriter()
}

func (db *DB) stopWriter() {
	db.wr.once.Do(func() { close(db.wr.quit) })
	db.wr.wg.Wait()
}

// write runs fn in a transaction on the writer connection, batched with other
// concurrent writes, and returns once it is committed (or fn's error, or the
// commit's). fn must use the given tx only, and may run twice (see above).
// Errors come back translated. A
// write under a context marked privacy.Bulk (a retention sweep's) is a bulk
// write (writeBulk).
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if privacy.IsBulk(ctx) {
		return db.writeBulk(ctx, fn)
	}
	return db.submit(ctx, db.wr.jobs, &job{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// writeBulk is write for a bulk write: it yields to every other write (see
// bulkMaxWait) and is never batched with them.
func (db *DB) writeBulk(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.submit(ctx, db.wr.bulk, &job{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

func (db *DB) submit(ctx context.Context, queue chan<- *job, j *job) error {
	select {
	case queue <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.wr.quit:
		return errClosed
	}
	// Wait for the outcome even if ctx ends now: the job may already be committed.
	select {
	case err := <-j.done:
		return err
	case <-db.wr.exited:
		select {
		case err := <-j.done:
			return err
		default:
			return errClosed // queued after the writer stopped: it never ran
		}
	}
}

func (db *DB) runWriter() {
	defer db.wr.wg.Done()
	defer close(db.wr.exited)
	var pending *job // a bulk job taken, waiting for its turn
	for {
		if pending == nil {
			// Take an offered bulk job even while ordinary ones are queued,
			// so that its bulkMaxWait runs from now: under a steady stream of
			// ordinary writes the queue below is never empty, and a bulk job
			// left in its channel waited as long as the stream lasted
			// (TestBulkWritesYield). The wait counts from here, not from the
			// caller's call, so ordinary writes queued now still go first.
			select {
			case pending = <-db.wr.bulk:
				pending.taken = time.Now()
			default:
			}
		}
		if p := pending; p != nil && (len(db.wr.jobs) == 0 || time.Since(p.taken) >= bulkMaxWait) {
			pending = nil
			p.done <- db.commitOne(p)
			continue
		}
		var first *job
		select {
		case first = <-db.wr.jobs:
		default:
			if pending != nil {
				continue // the next turn runs it
			}
			select {
			case first = <-db.wr.jobs:
			case pending = <-db.wr.bulk:
				pending.taken = time.Now()
				continue
			case <-db.wr.quit:
				for { // fail what is still queued
					select {
					case j := <-db.wr.jobs:
						j.done <- errClosed
					default:
						return
					}
				}
			}
		}
		batch := []*job{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-db.wr.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		db.commitBatch(batch)
	}
}

func (db *DB) commitBatch(batch []*job) {
	if len(batch) == 1 {
		batch[0].done <- db.commitOne(batch[0])
		return
	}
	if db.commitTogether(batch) {
		return
	}
	db.commitSavepoints(batch)
}

// commitTogether runs a batch in one transaction without savepoints and
// answers every job, unless one of them fails (or its context ended): then it
// rolls the whole transaction back, answers none and returns false, and the
// batch runs again with a savepoint per job. A savepoint makes SQLite copy
// every page a job touches into the statement journal first: 27 % of the
// writer's CPU under intake load (pprof, memjrnlWrite), for batches in which
// nothing fails. A job's fn may therefore run twice; each sets what it
// reports afresh on every run.
func (db *DB) commitTogether(batch []*job) bool {
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		return false
	}
	db.heads.begin()
	for _, j := range batch {
		if j.ctx.Err() != nil || j.fn(tx) != nil {
			_ = tx.Rollback()
			db.heads.reset()
			return false
		}
		db.heads.jobDone(true)
	}
	err = translate(tx.Commit())
	db.heads.afterCommit(err)
	for _, j := range batch {
		j.done <- err
	}
	return true
}

// commitSavepoints runs a batch in one transaction, each job under its own
// savepoint, so a job that fails is rolled back alone.
func (db *DB) commitSavepoints(batch []*job) {
	results := make([]error, len(batch))
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		for _, j := range batch {
			j.done <- translate(err)
		}
		return
	}
	db.heads.begin()
	released := true // every savepoint released or rolled back as asked
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := tx.Exec("SAVEPOINT job"); err != nil {
			results[i] = translate(err)
			continue
		}
		if err := j.fn(tx); err != nil {
			results[i] = translate(err)
			db.heads.jobDone(false)
			if _, rerr := tx.Exec("ROLLBACK TO job"); rerr != nil {
				// The transaction is unusable: fail the whole batch.
				_ = tx.Rollback()
				db.heads.reset()
				for k, j := range batch {
					if k != i {
						results[k] = translate(fmt.Errorf("batch rolled back: %w", rerr))
					}
					j.done <- results[k]
				}
				return
			}
		}
		db.heads.jobDone(results[i] == nil)
		if _, err := tx.Exec("RELEASE job"); err != nil {
			released = false
			if results[i] == nil {
				results[i] = translate(err)
			}
		}
	}
	err = tx.Commit()
	if released {
		db.heads.afterCommit(err)
	} else {
		db.heads.reset() // what a job whose savepoint stayed open changed is unknown
	}
	if err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = translate(err)
			}
		}
	}
	for i, j := range batch {
		j.done <- results[i]
	}
}

// commitOne runs a lone job in its own transaction: no savepoint is needed.
func (db *DB) commitOne(j *job) error {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	tx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		return translate(err)
	}
	db.heads.begin()
	if err := j.fn(tx); err != nil {
		_ = tx.Rollback()
		db.heads.reset()
		return translate(err)
	}
	db.heads.jobDone(true)
	err = tx.Commit()
	db.heads.afterCommit(err)
	return translate(err)
}
