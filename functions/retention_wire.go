package main

import (
	"context"
	"time"

	retentiontimer "github.com/privops/privops/functions/retention"
	"github.com/privops/privops/shared/breach"
	"github.com/privops/privops/shared/breachrecords"
	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/retention"
	"github.com/privops/privops/shared/trigger"
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
	if d := a.serviceBusDeadLetters(); d != nil {
		return d
	}
	d, _ := ad.publisher.(retentiontimer.DeadLetters)
	return d
}

// newSweeper builds the retention sweep on the store: its tenant documents carry
// the policies, holds and run state; its built-in data containers are swept
// where the store can page them by age (SQLite and Cosmos DB; the in-memory
// test store cannot, and its policies are reported failed with that reason).
func (a *app) newSweeper(ad adapters) (*retention.Sweeper, error) {
	items, _ := ad.store.(retention.Items)
	hasher := privacy.SubjectHasher{Key: derive(a.secrets.Root, "subject-hash")}
	// Services are purged through their connector's purge action (webhook;
	// Service Bus: a command to the service's queue, answered later).
	purgers := map[privacy.ConnectorKind]privacy.Purger{}
	for kind, c := range a.connectors(ad) {
		if p, ok := c.(privacy.Purger); ok {
			purgers[kind] = p
		}
	}
	return retention.NewSweeper(retention.Config{PageSize: a.cfg.RetentionPageSize, Lease: a.cfg.RetentionLease,
		PagePause: time.Duration(a.cfg.RetentionPagePauseMS) * time.Millisecond, AnswerWait: a.cfg.RetentionServiceAnswerWait},
		retention.Deps{Tenants: ad.store, Items: items, Requests: ad.store, Blobs: ad.blobs, Inbound: inboundLog(ad.store), Breach: breachRecords(ad), Purgers: purgers, HeldEmail: a.svc.OpenHoldEmail, Audit: ad.store.AppendAudit, Hash: hasher.Hash, Flush: a.svc.FlushTenant, Now: ad.now,
			NewID: func() string { return "run_" + randomHex(8) }, Step: a.crashPoint(), Logger: a.log})
}

// bulkQueue marks each invocation of fn as bulk background work
// (privacy.Bulk): the embedded store runs its writes after the portal's, so
// a retention sweep does not hold up submissions (issue 12 item 7).
func bulkQueue(fn trigger.QueueFunc) trigger.QueueFunc {
	return func(ctx context.Context, m trigger.Message) error { return fn(privacy.Bulk(ctx), m) }
}
