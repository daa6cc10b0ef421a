package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
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
