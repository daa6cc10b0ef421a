package inmem_test

import (
	"testing"

	"github.com/privops/privops/shared/inmem"
	"github.com/privops/privops/shared/storetest"
)

func TestLeaseConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLeases(t, inmem.NewStore())
}
