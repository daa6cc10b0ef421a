package cosmos

import (
	"testing"

	"github.com/privops/privops/shared/breachsend"
	"github.com/privops/privops/shared/storetest"
)

// TestBreachSendStore runs the breachsend.Store conformance suite against
// Cosmos DB (the emulator in CI; skipped without an endpoint, as every Cosmos
// test here).
func TestBreachSendStore(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	storetest.RunBreachSend(t, func(testing.TB) breachsend.Store { return s.BreachSend() })
}
