package sqlite

import (
	"testing"

	"github.com/privops/privops/shared/storetest"
)

// TestLeaseConformance runs the operator-level lease suite (migration 0006).
func TestLeaseConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLeases(t, openTest(t, Options{}).Store())
}

// TestBreachRecordsConformance runs what a retention sweep of breach records
// needs of the breach stores.
func TestBreachRecordsConformance(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	storetest.RunBreachRecords(t, db.Store(), db.BreachSend())
}
