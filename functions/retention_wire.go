package main

import (
	retentiontimer "github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachrecords"
	"github.com/privops/privops/shared/retention"
)

// timerLease returns the store's operator-level leases for the retention
// timer (every adapter has them: SQLite migration 0006, Cosmos DB a document
// in the operator's partition, in memory); nil for a store without, which
// leaves the per-tenant run lease alone to keep sweeps apart.
func timerLease(store any) retentiontimer.Lease {
	l, _ := store.(retentiontimer.Lease)
	return l
}

// breachRecords adapts the store's breach notices and the fan-out's
// campaigns to the sweep of breach-records policies; nil (policies reported
// not-swept) where the store has no breach adapter or no fan-out store.
func breachRecords(ad adapters) retention.BreachRecords {
	bs, ok := ad.store.(breach.Store)
	if !ok || ad.breachStore == nil {
		return nil
	}
	return &breachrecords.Records{Notices: bs, Campaigns: ad.breachStore}
}
