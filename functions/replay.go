package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/privops/privops/shared/config"
	"github.com/privops/privops/shared/logging"
	"github.com/privops/privops/shared/privacy"
)

// replay implements `privops replay`: after a fix, it re-submits the inbound
// messages that did not go through.
//
//   - Rejected messages (recorded with their body): each runs through the
//     inbound pipeline again, its signature checked against the time it first
//     arrived; one carried out now is marked replayed.
//   - Dead-lettered messages (transient failures that outlived their
//     deliveries): with Service Bus they are received from the inbound queue's
//     dead-letter queue and run here, each completed once handled; on the
//     built-in queue they are moved back to the queue, where the running suite
//     takes them with their original enqueued time.
//
// It prints counts, never contents.
func replayCommand(fs *flag.FlagSet) func(context.Context, *config.Config, io.Writer) error {
	tenant := fs.String("tenant", "", "only this tenant's rejected messages (default: every tenant and the operator's partition)")
	rejected := fs.Bool("rejected", true, "replay rejected messages")
	dead := fs.Bool("dead-letters", true, "replay the inbound queue's dead letters")
	return func(ctx context.Context, cfg *config.Config, w io.Writer) error {
		return replay(ctx, cfg, w, *tenant, *rejected, *dead)
	}
}

func replay(ctx context.Context, cfg *config.Config, w io.Writer, tenant string, rejected, dead bool) error {
	a, err := build(ctx, cfg, logging.New(io.Discard, "error"))
	if err != nil {
		return err
	}
	defer a.Close()
	if rejected {
		if err := a.replayRejected(ctx, tenant, w); err != nil {
			return err
		}
	}
	if dead {
		return a.replayDeadLetters(ctx, w)
	}
	return nil
}

func (a *app) replayRejected(ctx context.Context, only string, w io.Writer) error {
	tenants := []string{only}
	if only == "" {
		ts, err := a.store.ListTenants(ctx)
		if err != nil {
			return fmt.Errorf("replay: list tenants: %w", err)
		}
		tenants = []string{privacy.OperatorTenant}
		for _, t := range ts {
			tenants = append(tenants, t.ID)
		}
	}
	for _, id := range tenants {
		n, err := a.inbound.ReplayRejected(ctx, a.svc, id)
		if err != nil {
			return fmt.Errorf("replay rejected messages of %s: %w", id, err)
		}
		if n.Accepted+n.Duplicate+n.Rejected > 0 {
			fmt.Fprintf(w, "rejected messages of %s: %d accepted, %d already done, %d rejected again\n", id, n.Accepted, n.Duplicate, n.Rejected)
		}
	}
	return nil
}

func (a *app) replayDeadLetters(ctx context.Context, w io.Writer) error {
	queue := a.cfg.InboundQueue
	if done, err := a.replayServiceBusDeadLetters(ctx, w, queue); done {
		return err
	}
	if a.cfg.QueueBackend != "sqlite" {
		// SQS keeps its own dead-letter queue: a redrive there (the console's
		// "Start DLQ redrive", or StartMessageMoveTask) moves them back.
		return fmt.Errorf("dead letters of %s: QUEUE_BACKEND=%s keeps them in its own dead-letter queue; redrive them there", queue, a.cfg.QueueBackend)
	}
	n, err := a.db.Queue().Requeue(ctx, queue)
	if err != nil {
		return fmt.Errorf("replay dead letters of %s: %w", queue, err)
	}
	fmt.Fprintf(w, "dead letters of %s: %d moved back to the queue\n", queue, n)
	return nil
}
