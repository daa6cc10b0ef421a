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
