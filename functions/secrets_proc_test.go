package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentCommandsKeepTheGeneratedKeys runs many `privops token` and
// `privops tenant list` processes at once on one DATA_DIR whose keys were generated already, as an
// operator does while the suite runs (`privops tenant …` beside it). Each must
// succeed, and the keys file must keep its bytes: a start that rewrote it
// (truncate, then write) let a concurrent start read it empty and fail, and a
// kill in between would have left an empty file, losing SECRET_KEY for good.
func TestConcurrentCommandsKeepTheGeneratedKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	env := baseEnv(dir, "DEMO_TENANT=false")
	// The first command that opens the suite generates the keys (`privops
	// token` never does: it reads the server's).
	if _, stderr, err := runCLI(t, env, "tenant", "list"); err != nil {
		t.Fatalf("first tenant list: %v %s", err, stderr)
	}
	file := filepath.Join(dir, "secrets.json")
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	var wg sync.WaitGroup
	errs := make([]string, n)
	for i := range n {
		wg.Go(func() {
			args := []string{"token", "--operator", "--role", "operator-viewer", "--sub", "o"}
			if i%2 == 1 {
				args = []string{"tenant", "list"}
			}
			if _, stderr, err := runCLI(t, env, args...); err != nil {
				errs[i] = err.Error() + ": " + stderr
			}
		})
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("token %d failed: %s", i, e)
		}
	}
	after, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("secrets.json changed:\nbefore %d bytes\nafter  %d bytes", len(before), len(after))
	}
}
