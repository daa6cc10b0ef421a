package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/privops/privops/shared/privacy"
)

// TestGroupCommitIsolatesFailures: concurrent writes are batched into one
// transaction, yet a job that fails is rolled back alone and the others commit.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := t.Context()
	if err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE TABLE scratch (n INTEGER PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errOdd := errors.New("odd jobs fail after writing")
	var wg sync.WaitGroup
	results := make([]error, 200)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.write(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec(`INSERT INTO scratch (n) VALUES (?)`, i); err != nil {
					return err
				}
				if i%2 == 1 {
					return errOdd
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		if want := i%2 == 1; errors.Is(err, errOdd) != want || (!want && err != nil) {
			t.Errorf("job %d: %v", i, err)
		}
	}
	var got []int
	rows, err := db.r.QueryContext(ctx, `SELECT n FROM scratch ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		_ = rows.Scan(&n)
		got = append(got, n)
	}
	var want []int
	for i := 0; i < len(results); i += 2 {
		want = append(want, i)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("committed rows (-want +got):\n%s", diff)
	}
}

// TestWriteAfterCloseFails: a closed database refuses writes instead of hanging.
func TestWriteAfterCloseFails(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	db.stopWriter()
	err := db.write(context.Background(), func(*sql.Tx) error { return nil })
	if !errors.Is(err, errClosed) {
		t.Errorf("got %v, want errClosed", err)
	}
}

// A bulk write yields: queued behind a busy writer together with ordinary
// writes, it runs after them, alone; and ordinary writes that never stop
// coming do not starve it (it runs once it has waited bulkMaxWait). A write
// in a context marked privacy.Bulk is a bulk write.
func TestBulkWritesYield(t *testing.T) {
	t.Parallel()
	for name, bulk := range map[string]func(db *DB, ctx context.Context, fn func(*sql.Tx) error) error{
		"writeBulk": (*DB).writeBulk,
		"write in a Bulk context": func(db *DB, ctx context.Context, fn func(*sql.Tx) error) error {
			return db.write(privacy.Bulk(ctx), fn)
		},
	} {
		t.Run("after the waiting writes, "+name, func(t *testing.T) {
			t.Parallel()
			bulkAfterWaitingWrites(t, bulk)
		})
	}
	t.Run("not starved", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, Options{})
		ctx := t.Context()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		// Twice as many writers as a batch holds, back to back, each write
		// taking a millisecond: while one batch runs the other half waits
		// queued, so the writer never finds the queue of ordinary writes
		// empty.
		for range 2 * maxBatch {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = db.write(ctx, func(*sql.Tx) error { time.Sleep(time.Millisecond); return nil })
				}
			})
		}
		defer wg.Wait()
		defer close(stop)
		waitUntil(t, func() bool { return len(db.wr.jobs) == maxBatch })
		done := make(chan error, 1)
		go func() { done <- db.writeBulk(ctx, func(*sql.Tx) error { return nil }) }()
		// Not a speed bound: bulkMaxWait is 20 ms; a bulk job that is never
		// taken waits as long as the ordinary writes go on.
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the bulk write never ran while ordinary writes kept coming")
		}
	})
}

// bulkAfterWaitingWrites queues a bulk write (through bulk) behind a busy
// writer, then two ordinary writes, and checks that the bulk write runs last.
func bulkAfterWaitingWrites(t *testing.T, bulk func(db *DB, ctx context.Context, fn func(*sql.Tx) error) error) {
	t.Helper()
	db := openTest(t, Options{})
	ctx := t.Context()
	release := make(chan struct{})
	busy := make(chan struct{})
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = db.write(ctx, func(*sql.Tx) error { close(busy); <-release; return nil })
	})
	<-busy
	wg.Go(func() { _ = bulk(db, ctx, func(*sql.Tx) error { note("bulk"); return nil }) })
	time.Sleep(50 * time.Millisecond) // the bulk write is queued first
	for _, name := range []string{"a", "b"} {
		wg.Go(func() { _ = db.write(ctx, func(*sql.Tx) error { note(name); return nil }) })
	}
	waitUntil(t, func() bool { return len(db.wr.jobs) >= 2 })
	close(release)
	wg.Wait()
	if got := order[len(order)-1]; got != "bulk" || len(order) != 3 {
		t.Errorf("order %v, want the bulk write last", order)
	}
}

func waitUntil(tb testing.TB, cond func() bool) {
	tb.Helper()
	for t0 := time.Now(); !cond(); time.Sleep(time.Millisecond) {
		if time.Since(t0) > 5*time.Second {
			tb.Fatal("timed out")
		}
	}
}

// A batch in which one job fails runs again with a savepoint per job, so the
// others' fns run twice: what they report is set afresh on each run (a
// requeue batched with a failing write counts each message once).
func TestRerunBatchReportsOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)
	db := openTest(t, Options{Now: func() time.Time { return now }, QueueMaxDeliveries: 1})
	q, ctx := db.Queue(), t.Context()
	if err := q.Publish(ctx, "work", privacy.OutMessage{ID: "a"}, privacy.OutMessage{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	for { // one delivery allowed: each message is dead-lettered once received again
		d, err := q.Receive(ctx, "work", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			break
		}
		if err := q.Retry(ctx, d, 0); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := q.Counts(ctx, "work"); err != nil || c != (Counts{Dead: 2}) {
		t.Fatalf("counts %+v, %v; want 2 dead letters", c, err)
	}
	release, busy := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = db.write(ctx, func(*sql.Tx) error { close(busy); <-release; return nil }) })
	<-busy
	var moved int
	var requeueErr error
	wg.Go(func() { moved, requeueErr = q.Requeue(ctx, "work") })
	waitUntil(t, func() bool { return len(db.wr.jobs) == 1 })
	errFail := errors.New("fails")
	wg.Go(func() { _ = db.write(ctx, func(*sql.Tx) error { return errFail }) })
	waitUntil(t, func() bool { return len(db.wr.jobs) == 2 })
	close(release)
	wg.Wait()
	if requeueErr != nil || moved != 2 {
		t.Errorf("requeue batched with a failing write: %d moved, %v; want 2", moved, requeueErr)
	}
}
