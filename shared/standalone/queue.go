package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/privops/privops/shared/funcjson"
	"github.com/privops/privops/shared/privacy"
	"github.com/privops/privops/shared/trigger"
)

// Backoff bounds for DefaultBackoff and for receive errors.
const (
	backoffBase     = time.Second
	backoffCap      = 5 * time.Minute
	receiveErrorCap = 30 * time.Second
	settleTimeout   = 10 * time.Second
)

// DeadLetterReason is the reason given to Receiver.DeadLetter, as Service Bus
// names it.
const DeadLetterReason = "MaxDeliveryCountExceeded"

// DefaultBackoff is exponential with jitter, capped: after delivery n failed,
// wait between half and all of min(1s·2^(n-1), 5 min). The jitter spreads the
// retries of a burst of failures so they do not hit a recovering dependency
// together.
func DefaultBackoff(deliveryCount int) time.Duration {
	d := backoffCap
	if n := max(deliveryCount, 1) - 1; n < 20 {
		d = min(backoffBase<<n, backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

// Arrivals is what a Receiver may also offer when its publishers share the
// process (the built-in queue): a channel that receives after a publish to
// queue commits. The polling worker waits on it as well as on its poll
// interval, so a message published here is received at once, and one
// published by another process within PollInterval.
type Arrivals interface {
	Arrivals(queue string) <-chan struct{}
}

// consume is one worker of a queue function: it receives until runCtx is done
// and handles each message under workCtx, so a message in flight at shutdown
// finishes and is settled.
//
// A queue's workers take turns at polling: turn holds one token, and only
// the worker holding it receives. It hands the token on as soon as it has a
// message, so in a burst the next idle worker receives at once and all are
// busy after as many receives as there are workers; an empty queue costs one
// receive per poll interval, not one per worker (each receive of the
// built-in queue is a transaction of its one writer).
func (h *Host) consume(runCtx, workCtx context.Context, p funcjson.Paired, worker int, turn chan struct{}) {
	log := h.Logger.With("function", p.Spec.Name, "queue", p.Spec.Queue, "worker", worker)
	var arrived <-chan struct{}
	if a, ok := h.Receiver.(Arrivals); ok {
		arrived = a.Arrivals(p.Spec.Queue)
	}
	for {
		select {
		case <-turn:
		case <-runCtx.Done():
			return
		}
		d := h.poll(runCtx, log, p.Spec.Queue, arrived)
		turn <- struct{}{} // never blocks: the token was ours
		if d == nil {
			return // runCtx is done
		}
		h.handle(workCtx, p, d)
	}
}

// poll receives from queue until it gets a message, or returns nil once runCtx
// is done. After an empty receive it waits the poll interval (with jitter) or
// until a message arrives; after a failed one, a doubling delay.
func (h *Host) poll(runCtx context.Context, log *slog.Logger, queue string, arrived <-chan struct{}) *privacy.Delivery {
	errDelay := h.PollInterval
	for runCtx.Err() == nil {
		d, err := h.Receiver.Receive(runCtx, queue, h.Lease)
		switch {
		case runCtx.Err() != nil && d == nil:
			return nil
		case err != nil:
			log.Warn("receive failed", "error", err, "retry_in_ms", errDelay.Milliseconds())
			sleep(runCtx, errDelay)
			errDelay = min(errDelay*2, receiveErrorCap)
		case d == nil:
			errDelay = h.PollInterval
			// Jitter keeps several processes on one file from polling in lockstep.
			sleepOrWake(runCtx, h.PollInterval/2+rand.N(h.PollInterval/2+1), arrived)
		default:
			return d
		}
	}
	return nil
}

// handle runs the function for one delivery and settles it: Complete on
// success, Retry after Backoff on an error or a panic, DeadLetter when this
// delivery was the last allowed.
func (h *Host) handle(workCtx context.Context, p funcjson.Paired, d *privacy.Delivery) {
	log := h.Logger.With("function", p.Spec.Name, "queue", p.Spec.Queue,
		"message_id", d.ID, "delivery_count", d.DeliveryCount)
	if d.DeliveryCount > h.MaxDeliveryCount {
		// Its lease ran out too often (a crash loop): do not run it again.
		settle, cancel := context.WithTimeout(workCtx, settleTimeout)
		defer cancel()
		h.deadLetter(settle, log, d)
		return
	}
	ctx, id := invocation(workCtx, p.Spec.Name)
	log = log.With("invocation_id", id)
	ctx, stop := context.WithTimeout(ctx, h.FunctionTimeout)
	ctx, lost := context.WithCancelCause(ctx)
	renewing := h.renew(ctx, lost, log, d)
	queue := d.Queue
	if queue == "" {
		queue = p.Spec.Queue
	}
	m := trigger.Message{ID: d.ID, Body: d.Body, DeliveryCount: d.DeliveryCount, EnqueuedAt: d.EnqueuedAt.UTC(), Queue: queue,
		ContentType: d.ContentType, Properties: d.Properties}
	err := callSafely(func() error { return p.Function.Queue(ctx, m) })
	lost(nil)
	stop()
	<-renewing // no renewal races the settlement below

	// The settlement's own timeout starts now, however long the run took.
	settle, cancel := context.WithTimeout(workCtx, settleTimeout)
	defer cancel()

	var rej *trigger.Rejection
	switch {
	case errors.As(err, &rej):
		if err := h.Receiver.DeadLetter(settle, d, rej.Reason); err != nil {
			logSettle(log, "dead-letter", err)
			return
		}
		log.Warn("message rejected and dead-lettered", "reason", rej.Reason)
	case err == nil:
		if err := h.Receiver.Complete(settle, d); err != nil {
			logSettle(log, "complete", err)
			return
		}
		log.Debug("message completed")
	case d.DeliveryCount >= h.MaxDeliveryCount:
		log.Error("queue function failed on the last allowed delivery", "error", err)
		h.deadLetter(settle, log, d)
	default:
		delay := h.Backoff(d.DeliveryCount)
		log.Warn("queue function failed; message will be retried", "error", err, "retry_in_ms", delay.Milliseconds())
		if err := h.Receiver.Retry(settle, d, delay); err != nil {
			logSettle(log, "retry", err)
		}
	}
}

// renew extends d's lease by Lease every Lease/3 until ctx is done, as the
// Functions host renews a Service Bus lock while its function runs, so a long
// run is not delivered again meanwhile. When the lease is lost (the extend
// came too late, or the message was settled elsewhere) it cancels the run
// with lost, since its settlement would fail anyway; another failure is logged
// and tried again at the next tick, while the lease may still hold. The
// returned channel is closed when renewing has stopped.
func (h *Host) renew(ctx context.Context, lost context.CancelCauseFunc, log *slog.Logger, d *privacy.Delivery) <-chan struct{} {
	done := make(chan struct{})
	every := max(h.Lease/3, time.Millisecond)
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			extend, cancel := context.WithTimeout(ctx, every)
			err := h.Receiver.Extend(extend, d, h.Lease)
			cancel()
			switch {
			case err == nil, ctx.Err() != nil:
			case errors.Is(err, privacy.ErrConflict):
				log.Warn("lease lost while the queue function ran; cancelling it", "error", err)
				lost(fmt.Errorf("lease of message %s lost: %w", d.ID, err))
				return
			default:
				log.Warn("lease renewal failed; trying again", "error", err, "retry_in_ms", every.Milliseconds())
			}
		}
	}()
	return done
}

func (h *Host) deadLetter(ctx context.Context, log *slog.Logger, d *privacy.Delivery) {
	if err := h.Receiver.DeadLetter(ctx, d, DeadLetterReason); err != nil {
		logSettle(log, "dead-letter", err)
		return
	}
	log.Error("message dead-lettered", "reason", DeadLetterReason)
}

// logSettle logs a failed settlement. A lost lease is expected after a slow
// run: the message is simply delivered again.
func logSettle(log *slog.Logger, op string, err error) {
	if errors.Is(err, privacy.ErrConflict) {
		log.Warn(op+" lost the lease; message will be delivered again", "error", err)
		return
	}
	log.Error(op+" failed; message will be delivered again when its lease runs out", "error", err)
}
