package main

import (
	retentiontimer "github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachrecords"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/servicebus"
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

// deadLetterConfig is the retention timer's dead-letter step: every queue the
// app uses, kept DEADLETTER_KEEP; the inbound queue's no longer than
// INBOUND_KEEP_REJECTED either.
func deadLetterConfig(cfg *config.Config) retentiontimer.DeadLetterConfig {
	return retentiontimer.DeadLetterConfig{Keep: cfg.DeadLetterKeep, InboundQueue: cfg.InboundQueue, InboundKeep: cfg.InboundKeepRejected,
		Queues: []string{cfg.NoticesQueue, cfg.TasksQueue, cfg.InboundQueue, cfg.RetentionQueue, cfg.BreachSendQueue}}
}

// deadLetters is what removes dead-lettered bodies on the queue backend:
// Service Bus dead-letter queues, or the built-in queue's dead-letter rows;
// nil for a backend without (SQS, whose dead-letter queue's own retention
// period applies; the in-memory test queue).
func (a *app) deadLetters(ad adapters) retentiontimer.DeadLetters {
	if a.sb != nil {
		return &servicebus.DeadLetterKeeper{Client: a.sb}
	}
	d, _ := ad.publisher.(retentiontimer.DeadLetters)
	return d
}
