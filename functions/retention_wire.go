package main

import (
	retentiontimer "github.com/privops/privops/functions/retention"
)

// timerLease returns the store's operator-level leases for the retention
// timer (every adapter has them: SQLite migration 0006, Cosmos DB a document
// in the operator's partition, in memory); nil for a store without, which
// leaves the per-tenant run lease alone to keep sweeps apart.
func timerLease(store any) retentiontimer.Lease {
	l, _ := store.(retentiontimer.Lease)
	return l
}
