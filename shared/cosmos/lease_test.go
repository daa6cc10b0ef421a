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
