package cosmos

import (
	"testing"

	"github.com/privops/privops/shared/storetest"
)

// TestLeases runs the operator-level lease suite against Cosmos DB (skipped
// without an endpoint, as every Cosmos test here).
func TestLeases(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.RunLeases(t, s)
}

// TestBreachRecords runs what a retention sweep of breach records needs of
// the breach stores against Cosmos DB.
func TestBreachRecords(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.RunBreachRecords(t, s, s.BreachSend())
}
