package cosmos

import (
	"testing"

	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/storetest"
)

// TestBreachStore runs the breach.Store conformance suite against Cosmos DB
// (the emulator in CI; skipped, as every Cosmos test here, without an endpoint).
func TestBreachStore(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.RunBreach(t, func(testing.TB) breach.Store { return s })
}
