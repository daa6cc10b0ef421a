package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestPing: an open database answers; a closed one does not.
func TestPing(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	if err := db.Store().Ping(t.Context()); err != nil {
		t.Fatalf("ping an open database: %v", err)
	}

	closed, err := Open(t.Context(), filepath.Join(t.TempDir(), "privops.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closed.Store().Ping(context.Background()); err == nil {
		t.Error("ping a closed database: got nil, want an error")
	}
}
